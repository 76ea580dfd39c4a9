# A bitwise OR on the context pointer.
# expect: reject EACCES
# log: R1 bitwise operator |= on pointer prohibited
r1 |= 1
r0 = 2
exit
