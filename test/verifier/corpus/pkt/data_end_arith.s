# Arithmetic on data_end.
# expect: reject EACCES
# log: R3 pointer arithmetic on pkt_end prohibited
r3 = *(u32 *)(r1 + 4)
r3 -= 14
r0 = 2
exit
