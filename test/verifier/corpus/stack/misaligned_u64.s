# Stack accesses must be aligned to their size.
# expect: reject EACCES
# log: misaligned stack access off 0+0+-7 size 8
r1 = 0
*(u64 *)(r10 - 7) = r1
r0 = 2
exit
