# The IPv4 header length (IHL * 4) is a variable offset; after adding it, the pointer is checked
# again before the transport header is read.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 34
if r4 > r3 goto out
r5 = *(u8 *)(r2 + 14)
r5 &= 15
r5 <<= 2
r2 += r5
r4 = r2
r4 += 22
if r4 > r3 goto out
r0 = *(u16 *)(r2 + 16)
out:
r0 = 2
exit
