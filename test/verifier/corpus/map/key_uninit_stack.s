# The key points at stack that was never written: allowed for a privileged program (the helper
# reads uninitialized stack, which it may).
# map: m hash key=4 value=8 entries=16
# expect: accept
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
