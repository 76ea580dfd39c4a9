# bpf_map_delete_elem() on a hash map.
# map: m hash key=4 value=8 entries=16
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 3
r0 = 2
exit
