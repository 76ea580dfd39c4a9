# data_end > data + 14, taken branch: the inequality is strict, so byte 14 is in range too.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 > r4 goto ok
r0 = 2
exit
ok:
r0 = *(u8 *)(r2 + 14)
r0 = 2
exit
