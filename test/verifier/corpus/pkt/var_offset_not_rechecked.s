# The variable IHL offset is added after the only check; the read after it is not covered.
# expect: reject EACCES
# log: invalid access to packet, off=16 size=2, R2(id=1,off=16,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 34
if r4 > r3 goto out
r5 = *(u8 *)(r2 + 14)
r5 &= 15
r5 <<= 2
r2 += r5
r0 = *(u16 *)(r2 + 16)
out:
r0 = 2
exit
