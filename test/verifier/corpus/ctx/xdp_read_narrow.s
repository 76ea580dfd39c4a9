# A 16-bit load of ingress_ifindex: XDP allows only whole u32 loads.
# expect: reject EACCES
# log: invalid bpf_context access off=12 size=2
r2 = *(u16 *)(r1 + 12)
r0 = 2
exit
