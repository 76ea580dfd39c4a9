# bpf_perf_event_output() with an array map instead of a perf event array.
# map: m array key=4 value=4 entries=2
# expect: reject EINVAL
# log: cannot pass map_type 2 into func bpf_perf_event_output#25
r6 = r1
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = r6
ld_pseudo r2, 1, 0
r3 = 0xffffffff ll
r4 = r10
r4 += -8
r5 = 8
call 25
r0 = 2
exit
