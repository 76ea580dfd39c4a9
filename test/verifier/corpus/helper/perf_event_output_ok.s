# bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, 8).
# map: events perf_event_array key=4 value=4 entries=2
# expect: accept
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
