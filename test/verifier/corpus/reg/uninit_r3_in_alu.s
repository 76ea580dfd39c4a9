# Adding an uninitialized register.
# expect: reject EACCES
# log: R3 !read_ok
r0 = 2
r0 += r3
exit
