# A BPF_ST immediate store makes the slot readable.
# expect: accept
*(u32 *)(r10 - 4) = 7
r0 = *(u32 *)(r10 - 4)
r0 = 2
exit
