# r5 is a copy of data taken before the check; the check on r4 = data + 14 gives r5 the range too,
# because all three registers carry the same packet-pointer id.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r5 = r2
r4 = r2
r4 += 14
if r4 > r3 goto out
r0 = *(u8 *)(r5 + 13)
out:
r0 = 2
exit
