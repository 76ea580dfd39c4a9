# data + 14 >= data_end goes away; the fall-through (data + 14 < data_end) has bytes 0-14.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 >= r3 goto out
r0 = *(u8 *)(r2 + 14)
out:
r0 = 2
exit
