# egress_ifindex is only readable by programs attached to a devmap entry.
# expect: reject EACCES
# log: invalid bpf_context access off=20 size=4
r2 = *(u32 *)(r1 + 20)
r0 = 2
exit
