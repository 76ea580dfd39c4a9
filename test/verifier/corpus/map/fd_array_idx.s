# BPF_PSEUDO_MAP_IDX: the lddw names slot 0 of fd_array instead of an fd.
# map: m array key=4 value=8 entries=1
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 = 2
exit
