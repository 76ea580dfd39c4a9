# Every xdp_md field a plain XDP program may read, each a u32 at its own offset.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = *(u32 *)(r1 + 8)
r5 = *(u32 *)(r1 + 12)
r6 = *(u32 *)(r1 + 16)
r0 = 2
exit
