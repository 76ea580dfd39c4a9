# bpf_trace_printk() with a format string on the stack (GPL program).
# expect: accept
r1 = 0x0a6968
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 4
call 6
r0 = 2
exit
