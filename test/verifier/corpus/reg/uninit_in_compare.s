# Comparing an uninitialized register.
# expect: reject EACCES
# log: R4 !read_ok
r0 = 2
if r4 > 3 goto +0
exit
