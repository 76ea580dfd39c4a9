# Arithmetic on a map pointer.
# map: m array key=4 value=8 entries=4
# expect: reject EACCES
# log: R1 pointer arithmetic on map_ptr prohibited
ld_pseudo r1, 1, 0
r1 += 8
r0 = 2
exit
