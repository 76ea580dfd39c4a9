# A 32-bit spill of a constant filled as 64 bits: the upper half was never written, and the fill is
# an unknown number - allowed for a privileged program.
# expect: accept
r1 = 3
*(u32 *)(r10 - 8) = r1
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
