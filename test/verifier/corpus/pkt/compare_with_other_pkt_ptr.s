# Comparing two packet pointers with each other says nothing about data_end.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r4 = r2
r4 += 14
if r4 > r2 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
