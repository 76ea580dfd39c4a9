# Negating a copy of the frame pointer: allowed when privileged (allow_ptr_leaks), the result is
# an unknown number.
# expect: accept
r2 = r10
r2 = -r2
r0 = 2
exit
