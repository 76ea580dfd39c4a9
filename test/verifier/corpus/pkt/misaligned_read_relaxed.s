# A u32 packet read at offset 13 (not 4-byte aligned). x86 has efficient unaligned access, so the
# verifier does not check packet alignment unless asked to.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 20
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 13)
out:
r0 = 2
exit
