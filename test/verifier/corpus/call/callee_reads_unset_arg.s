# The callee reads r2, which the caller never set.
# expect: reject EACCES
# log: R2 !read_ok
r1 = 1
call sub
r0 = 2
exit
sub:
r0 = r2
exit
