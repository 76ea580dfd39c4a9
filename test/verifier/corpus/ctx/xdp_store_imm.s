# A BPF_ST (immediate) store into the context.
# expect: reject EACCES
# log: invalid bpf_context access off=12 size=4
*(u32 *)(r1 + 12) = 5
r0 = 2
exit
