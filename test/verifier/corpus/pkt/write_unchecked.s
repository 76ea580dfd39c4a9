# A packet write with no range check.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
*(u8 *)(r2 + 0) = 1
r0 = 2
exit
