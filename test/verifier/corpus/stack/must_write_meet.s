# The store at 19 writes fp-16 on one path and fp-8 on another (r1 differs), so neither slot is sure
# to be written there (liveness.c intersects must_write over the visits): fp-8 stays live at 18, and
# the last path, which brings fp-8 = 100 to 18 with the same r1 as the first, is not pruned.
# expect: reject EACCES
# log: misaligned stack access off 0+84+0 size 8
call 7
r7 = r0
r0 = 0
*(u64 *)(r10 - 8) = r0
*(u64 *)(r10 - 16) = r0
if r7 == 0 goto l_b
if r7 == 1 goto l_c
r1 = r10
r1 += -16
goto l_p
l_c:
r1 = r10
r1 += -8
goto l_p
l_b:
r0 = 100
*(u64 *)(r10 - 8) = r0
r1 = r10
r1 += -16
goto l_p
l_p:
r2 = 0
*(u64 *)(r1 + 0) = r2
r3 = *(u64 *)(r10 - 8)
r4 = r10
r4 += -16
r4 += r3
r0 = *(u64 *)(r4 + 0)
r0 = 0
exit
