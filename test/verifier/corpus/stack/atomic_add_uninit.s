# An atomic add on a never-written stack slot: it reads the slot first, which a privileged program
# may do.
# expect: accept
r2 = 1
lock *(u64 *)(r10 - 8) += r2
r0 = 2
exit
