# r2 is not an argument of an XDP program: reading it is reading garbage.
# expect: reject EACCES
# log: R2 !read_ok
r0 = r2
exit
