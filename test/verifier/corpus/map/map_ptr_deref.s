# Reading through the map pointer: a privileged program may read struct bpf_map fields (the kernel
# checks the access against the map's BTF type).
# map: m array key=4 value=8 entries=4
# expect: accept
ld_pseudo r1, 1, 0
r0 = *(u64 *)(r1 + 0)
r0 = 2
exit
