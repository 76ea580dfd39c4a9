# An 8-byte key at r10 - 4: half of it lies above the stack.
# map: m hash key=8 value=8 entries=16
# expect: reject EINVAL
# log: invalid read from stack R2 off=-4 size=8
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
