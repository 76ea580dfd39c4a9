# Returning a pointer into the stack.
# expect: accept
r0 = r10
exit
