# Direct value access needs an array map; a hash map has no fixed value address.
# map: h hash key=4 value=16 entries=4
# expect: reject EINVAL
# log: no direct value access support for this map type
ld_pseudo r1, 2, 0
r0 = 2
exit
