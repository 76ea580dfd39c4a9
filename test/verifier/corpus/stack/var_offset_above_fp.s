# The variable offset may push the access above the frame pointer.
# expect: reject EINVAL
# log: invalid variable-offset write to stack R3 var_off=(0x0; 0x10) off=-8 size=8
r2 = *(u32 *)(r1 + 12)
r2 &= 16
r3 = r10
r3 += -8
r3 += r2
r4 = 0
*(u64 *)(r3 + 0) = r4
r0 = 2
exit
