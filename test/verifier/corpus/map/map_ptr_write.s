# Writing through the map pointer.
# map: m array key=4 value=8 entries=4
# expect: reject EACCES
# log: only read from bpf_array is supported
ld_pseudo r1, 1, 0
r2 = 0
*(u64 *)(r1 + 0) = r2
r0 = 2
exit
