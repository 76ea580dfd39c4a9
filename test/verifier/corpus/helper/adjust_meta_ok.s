# bpf_xdp_adjust_meta() reserving 4 bytes of metadata.
# expect: accept
r2 = -4
call 54
r0 = 2
exit
