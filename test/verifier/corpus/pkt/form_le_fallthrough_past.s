# data_end <= data + 14 goes away; byte 15 is not covered.
# expect: reject EACCES
# log: invalid access to packet, off=15 size=1, R2(id=0,off=15,r=15)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 <= r4 goto out
r0 = *(u8 *)(r2 + 15)
out:
r0 = 2
exit
