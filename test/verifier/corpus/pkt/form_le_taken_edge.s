# data + 14 <= data_end, taken: bytes 0-13.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 <= r3 goto ok
r0 = 2
exit
ok:
r0 = *(u8 *)(r2 + 13)
r0 = 2
exit
