# A u32 load at offset 2, straddling two fields.
# expect: reject EACCES
# log: invalid bpf_context access off=2 size=4
r2 = *(u32 *)(r1 + 2)
r0 = 2
exit
