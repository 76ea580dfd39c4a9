# Storing into xdp_md->data.
# expect: reject EACCES
# log: invalid bpf_context access off=0 size=4
r2 = 0
*(u32 *)(r1 + 0) = r2
r0 = 2
exit
