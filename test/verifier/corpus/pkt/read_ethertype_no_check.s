# Reads the EtherType (bytes 12-13) with no data_end check.
# expect: reject EACCES
# log: invalid access to packet, off=12 size=2, R2(id=0,off=12,r=0)
r2 = *(u32 *)(r1 + 0)
r0 = *(u16 *)(r2 + 12)
r0 = 2
exit
