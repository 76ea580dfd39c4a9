# A full u32 from the packet added to the packet pointer: up to 4 GiB past data.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=1,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto out
r5 = *(u32 *)(r2 + 0)
r2 += r5
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
