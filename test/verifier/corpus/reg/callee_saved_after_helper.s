# r6 holds the context across a helper call.
# expect: accept
r6 = r1
call 5
r0 = *(u32 *)(r6 + 12)
r0 = 2
exit
