# Reads the first byte of the packet with no comparison against data_end.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r0 = *(u8 *)(r2 + 0)
r0 = 2
exit
