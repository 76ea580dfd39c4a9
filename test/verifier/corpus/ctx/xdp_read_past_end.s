# Offset 24 is past struct xdp_md.
# expect: reject EACCES
# log: invalid bpf_context access off=24 size=4
r2 = *(u32 *)(r1 + 24)
r0 = 2
exit
