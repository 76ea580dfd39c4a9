# With BPF_F_STRICT_ALIGNMENT, a u32 read at offset 14 (the IPv4 header: NET_IP_ALIGN + 14 = 16) is
# aligned.
# flags: strict_alignment
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 20
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 14)
out:
r0 = 2
exit
