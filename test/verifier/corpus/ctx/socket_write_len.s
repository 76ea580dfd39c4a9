# A socket filter may not write __sk_buff->len.
# prog: socket_filter
# expect: reject EACCES
# log: invalid bpf_context access off=0 size=4
r2 = 7
*(u32 *)(r1 + 0) = r2
r0 = 0
exit
