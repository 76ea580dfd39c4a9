# A direct value pointer at offset 8 of a 16-byte value, reading 16 bytes.
# map: g array key=4 value=16 entries=1
# expect: reject EACCES
# log: invalid access to map value, value_size=16 off=16 size=8
ld_pseudo r1, 2, 0x0000000800000000
r0 = *(u64 *)(r1 + 8)
r0 = 2
exit
