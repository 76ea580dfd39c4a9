# A load before the start of the context.
# expect: reject EACCES
# log: invalid bpf_context access off=-4 size=4
r2 = *(u32 *)(r1 - 4)
r0 = 2
exit
