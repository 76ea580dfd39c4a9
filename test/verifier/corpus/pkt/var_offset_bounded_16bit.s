# A u16 from the packet as a variable offset, checked before the read - and still refused: a range is
# only learnt for a pointer whose largest offset (umax 0xffff plus 1 here) stays within
# MAX_PACKET_OFF (0xffff), so the check teaches the verifier nothing.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=1,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 2
if r4 > r3 goto out
r5 = *(u16 *)(r2 + 0)
r2 += r5
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
