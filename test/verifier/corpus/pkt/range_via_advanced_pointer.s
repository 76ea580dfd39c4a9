# The pointer itself is advanced by 14 and checked; reading at -1 from it is byte 13 of the packet.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r2 += 14
if r2 > r3 goto out
r0 = *(u8 *)(r2 - 1)
out:
r0 = 2
exit
