# A u64 read at -4 reaches 4 bytes past the top of the stack.
# expect: reject EACCES
# log: misaligned stack access off 0+0+-4 size 8
*(u32 *)(r10 - 4) = 0
r0 = *(u64 *)(r10 - 4)
r0 = 2
exit
