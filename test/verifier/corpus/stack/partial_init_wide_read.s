# Four bytes written, eight read: the other four are uninitialized stack, which a privileged
# program may read.
# expect: accept
*(u32 *)(r10 - 8) = 0
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
