# A value of one map used as the key of another.
# map: idx array key=4 value=4 entries=1
# map: m hash key=4 value=8 entries=16
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r2 = r0
ld_pseudo r1, 1, 1
call 1
out:
r0 = 2
exit
