# The u16 offset of var_offset_bounded_16bit masked to 14 bits first: now the checked pointer stays
# within MAX_PACKET_OFF and the check gives the read its range.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 2
if r4 > r3 goto out
r5 = *(u16 *)(r2 + 0)
r5 &= 0x3fff
r2 += r5
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
