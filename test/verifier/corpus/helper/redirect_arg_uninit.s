# bpf_redirect() with the flags argument never set.
# expect: reject EACCES
# log: R2 !read_ok
r1 = 1
call 23
exit
