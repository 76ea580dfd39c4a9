# bpf_xdp_adjust_head (44) in a socket filter.
# prog: socket_filter
# expect: reject EINVAL
# log: program of this type cannot use helper bpf_xdp_adjust_head#44
r2 = 0
call 44
r0 = 0
exit
