# bpf_csum_diff(NULL, 0, to, 8, 0): from = NULL with size 0, which its prototype allows.
# expect: accept
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = 0
r2 = 0
r3 = r10
r3 += -8
r4 = 8
r5 = 0
call 28
r0 = 2
exit
