# data_end >= data + 14, taken: byte 14 is not covered.
# expect: reject EACCES
# log: invalid access to packet, off=14 size=1, R2(id=0,off=14,r=14)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 >= r4 goto ok
r0 = 2
exit
ok:
r0 = *(u8 *)(r2 + 14)
r0 = 2
exit
