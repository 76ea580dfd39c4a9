# A devmap is read-only for programs (BPF_F_RDONLY_PROG is forced on it): updates are refused.
# map: tx devmap key=4 value=4 entries=4
# expect: reject EACCES
# log: write into map forbidden
*(u32 *)(r10 - 4) = 0
*(u32 *)(r10 - 8) = 1
r2 = r10
r2 += -4
r3 = r10
r3 += -8
r4 = 0
ld_pseudo r1, 1, 0
call 2
r0 = 2
exit
