# A socket filter may write the scratch area __sk_buff->cb[].
# prog: socket_filter
# expect: accept
r2 = 7
*(u32 *)(r1 + 48) = r2
r0 = *(u32 *)(r1 + 48)
exit
