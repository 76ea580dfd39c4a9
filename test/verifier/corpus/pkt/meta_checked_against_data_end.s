# Metadata is bounded by data, not data_end: a check against data_end does not cover it.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 8)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 0)
out:
r0 = 2
exit
