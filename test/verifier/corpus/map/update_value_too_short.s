# A 16-byte value with only 8 of its stack bytes written: allowed when privileged.
# map: m hash key=4 value=16 entries=16
# expect: accept
*(u32 *)(r10 - 4) = 0
r1 = 0
*(u64 *)(r10 - 16) = r1
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
ld_pseudo r1, 1, 0
call 2
r0 = 2
exit
