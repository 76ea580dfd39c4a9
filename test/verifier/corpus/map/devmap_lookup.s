# A program may look up a devmap entry (the value is the struct bpf_devmap_val).
# map: tx devmap key=4 value=4 entries=4
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r0 = *(u32 *)(r0 + 0)
out:
r0 = 2
exit
