# Reading through data_end.
# expect: reject EACCES
# log: R3 invalid mem access 'pkt_end'
r3 = *(u32 *)(r1 + 4)
r0 = *(u8 *)(r3 + 0)
r0 = 2
exit
