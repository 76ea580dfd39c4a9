# The size comes from bpf_get_prandom_u32() masked to 0..8 bytes; an 8-byte buffer covers it.
# expect: accept
r1 = 0
*(u64 *)(r10 - 8) = r1
call 7
r0 &= 8
r2 = r0
r1 = r10
r1 += -8
r3 = 0
r4 = 0
r5 = 0
call 28
r0 = 2
exit
