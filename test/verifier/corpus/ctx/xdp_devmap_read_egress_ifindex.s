# With expected_attach_type BPF_XDP_DEVMAP (33) the program runs on a devmap entry and may read
# egress_ifindex.
# attach: 33
# expect: accept
r2 = *(u32 *)(r1 + 20)
r0 = 2
exit
