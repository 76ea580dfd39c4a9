# bpf_xdp_adjust_head() moves data: packet pointers taken before the call are stale.
# expect: reject EACCES
# log: R7 invalid mem access 'scalar'
r6 = r1
r7 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r7
r4 += 14
if r4 > r3 goto out
r2 = 4
call 44
r0 = *(u8 *)(r7 + 0)
out:
r0 = 2
exit
