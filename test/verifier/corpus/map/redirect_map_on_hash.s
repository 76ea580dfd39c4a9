# bpf_redirect_map() refuses a hash map.
# map: h hash key=4 value=4 entries=4
# expect: reject EINVAL
# log: cannot pass map_type 1 into func bpf_redirect_map#51
ld_pseudo r1, 1, 0
r2 = 0
r3 = 0
call 51
exit
