# BPF_PSEUDO_MAP_VALUE: r1 points straight at the value of a one-element array (global data).
# map: g array key=4 value=16 entries=1
# expect: accept
ld_pseudo r1, 2, 0x0000000800000000
r0 = *(u64 *)(r1 + 0)
r0 = 2
exit
