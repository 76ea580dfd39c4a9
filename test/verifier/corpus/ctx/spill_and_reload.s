# The context pointer spilled to the stack and reloaded is still the context.
# expect: accept
*(u64 *)(r10 - 8) = r1
r6 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r6 + 12)
r0 = 2
exit
