# The context copied into r9 is still the context.
# expect: accept
r9 = r1
r0 = *(u32 *)(r9 + 16)
r0 = 2
exit
