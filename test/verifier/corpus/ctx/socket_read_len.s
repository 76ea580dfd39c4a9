# A socket filter reads __sk_buff->len.
# prog: socket_filter
# expect: accept
r0 = *(u32 *)(r1 + 0)
exit
