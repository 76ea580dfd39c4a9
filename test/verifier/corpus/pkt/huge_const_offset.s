# A constant offset larger than any packet (MAX_PACKET_OFF is 0xffff).
# expect: reject EACCES
# log: invalid access to packet, off=65536 size=1, R2(id=0,off=65536,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r2 += 0x10000
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
