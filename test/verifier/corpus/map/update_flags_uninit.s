# bpf_map_update_elem() without setting the flags argument r4.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: R4 !read_ok
*(u32 *)(r10 - 4) = 0
r1 = 0
*(u64 *)(r10 - 16) = r1
r2 = r10
r2 += -4
r3 = r10
r3 += -16
ld_pseudo r1, 1, 0
call 2
r0 = 2
exit
