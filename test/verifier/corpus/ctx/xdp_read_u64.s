# A 64-bit load of xdp_md->data: the fields are u32.
# expect: reject EACCES
# log: invalid bpf_context access off=0 size=8
r2 = *(u64 *)(r1 + 0)
r0 = 2
exit
