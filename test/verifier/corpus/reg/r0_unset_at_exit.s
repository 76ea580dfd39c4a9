# exit with r0 never written.
# expect: reject EACCES
# log: R0 !read_ok
exit
