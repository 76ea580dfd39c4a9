# BPF_LD | BPF_ABS reads the packet through r6, which here was never set.
# prog: socket_filter
# expect: reject EACCES
# log: R6 !read_ok
r0 = *(u8 *)skb[23]
exit
