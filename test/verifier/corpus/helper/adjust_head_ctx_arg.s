# bpf_xdp_adjust_head() with the context and a constant delta.
# expect: accept
r2 = -14
call 44
r0 = 2
exit
