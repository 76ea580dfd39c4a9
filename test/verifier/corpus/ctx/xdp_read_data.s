# Loads xdp_md->data: the verifier turns it into a packet pointer.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r0 = 2
exit
