# The callee returns without setting r0.
# expect: reject EACCES
# log: R0 !read_ok
call sub
exit
sub:
r1 = 1
exit
