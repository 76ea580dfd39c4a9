# A packet pointer spilled across bpf_xdp_adjust_head(): the spilled copy is invalidated too.
# expect: reject EACCES
# log: R5 invalid mem access 'scalar'
r6 = r1
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto out
*(u64 *)(r10 - 8) = r2
r1 = r6
r2 = 0
call 44
r5 = *(u64 *)(r10 - 8)
r0 = *(u16 *)(r5 + 12)
out:
r0 = 2
exit
