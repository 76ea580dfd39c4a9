# bpf_trace_printk() is GPL-only; the program's license is "Proprietary".
# license: Proprietary
# expect: reject EINVAL
# log: cannot call GPL-restricted function from non-GPL compatible program
r1 = 0x0a6968
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 4
call 6
r0 = 2
exit
