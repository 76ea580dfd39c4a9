# bpf_xdp_adjust_head() with a stack pointer where the context belongs.
# expect: reject EACCES
# log: R1 type=fp expected=ctx
r1 = r10
r1 += -8
r2 = 0
call 44
r0 = 2
exit
