# A u16 store at an odd offset.
# expect: reject EACCES
# log: misaligned stack access off 0+0+-3 size 2
r1 = 0
*(u16 *)(r10 - 3) = r1
r0 = 2
exit
