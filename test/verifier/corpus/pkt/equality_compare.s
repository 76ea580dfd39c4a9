# data + 14 != data_end gives no range on either branch.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 != r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
