# BPF_F_ANY_ALIGNMENT lifts the alignment check for packet and map pointers, but never for the stack:
# the spill tracking needs aligned slots, so a misaligned u64 store is refused all the same.
# flags: any_alignment
# expect: reject EACCES
# log: misaligned stack access off 0+0+-7 size 8
r1 = 0
*(u64 *)(r10 - 7) = r1
r0 = 2
exit
