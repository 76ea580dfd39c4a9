# An 8-byte key of which only the low 4 bytes were written: allowed when privileged.
# map: m hash key=8 value=8 entries=16
# expect: accept
*(u32 *)(r10 - 8) = 0
r2 = r10
r2 += -8
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
