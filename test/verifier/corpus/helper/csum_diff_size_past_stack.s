# from = r10 - 8 with a 16-byte size runs past the top of the stack.
# expect: reject EINVAL
# log: invalid read from stack R1 off=-8 size=16
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 16
r3 = 0
r4 = 0
r5 = 0
call 28
r0 = 2
exit
