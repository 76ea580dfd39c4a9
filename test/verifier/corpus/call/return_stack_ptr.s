# A callee returns a pointer into its own frame, which dies with the return.
# expect: reject EINVAL
# log: cannot return stack pointer to the caller
call sub
r0 = 2
exit
sub:
r0 = r10
r0 += -8
exit
