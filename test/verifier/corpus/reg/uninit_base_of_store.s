# Storing through an uninitialized register.
# expect: reject EACCES
# log: R7 !read_ok
r0 = 2
*(u32 *)(r7 + 0) = r0
exit
