# The lddw's value offset (16) is outside a 16-byte value.
# map: g array key=4 value=16 entries=1
# expect: reject EINVAL
# log: invalid access to map value pointer, value_size=16 off=16
ld_pseudo r1, 2, 0x0000001000000000
r0 = 2
exit
