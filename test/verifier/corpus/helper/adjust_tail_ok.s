# bpf_xdp_adjust_tail() shrinking the frame by 4 bytes.
# expect: accept
r2 = -4
call 65
r0 = 2
exit
