# bpf_ktime_get_ns() clobbers r1-r5; r1 is unreadable afterwards.
# expect: reject EACCES
# log: R1 !read_ok
call 5
r0 = r1
exit
