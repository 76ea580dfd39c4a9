# A classic packet load may call into the kernel: it clobbers r1-r5 like a helper call.
# prog: socket_filter
# expect: reject EACCES
# log: R1 !read_ok
r6 = r1
r0 = *(u8 *)skb[23]
r0 = r1
exit
