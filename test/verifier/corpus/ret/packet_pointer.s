# Returning a packet pointer.
# expect: accept
r0 = *(u32 *)(r1 + 0)
exit
