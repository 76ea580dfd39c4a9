# An atomic add on a slot holding a spilled context pointer. A privileged program may treat the
# pointer bits as a number (allow_ptr_leaks), so this is allowed.
# expect: accept
*(u64 *)(r10 - 8) = r1
r2 = 1
lock *(u64 *)(r10 - 8) += r2
r0 = 2
exit
