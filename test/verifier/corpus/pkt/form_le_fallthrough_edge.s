# data_end <= data + 14 goes away; the fall-through (data_end > data + 14) has bytes 0-14.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 <= r4 goto out
r0 = *(u8 *)(r2 + 14)
out:
r0 = 2
exit
