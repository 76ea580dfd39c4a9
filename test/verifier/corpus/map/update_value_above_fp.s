# A 16-byte value whose buffer starts at r10 - 8: the second half is above the stack.
# map: m hash key=4 value=16 entries=16
# expect: reject EINVAL
# log: invalid read from stack R3 off=-8 size=16
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r3 = r10
r3 += -8
r4 = 0
ld_pseudo r1, 1, 0
call 2
r0 = 2
exit
