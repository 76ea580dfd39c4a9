# bpf_map_lookup_elem() on a program array is not allowed from a program.
# map: jt prog_array key=4 value=4 entries=4
# expect: reject EINVAL
# log: cannot pass map_type 3 into func bpf_map_lookup_elem#1
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
