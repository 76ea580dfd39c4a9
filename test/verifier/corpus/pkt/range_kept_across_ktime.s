# A helper that does not touch the packet (bpf_ktime_get_ns) leaves the checked range intact.
# expect: accept
r6 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r6
r4 += 14
if r4 > r3 goto out
call 5
r0 = *(u8 *)(r6 + 13)
out:
r0 = 2
exit
