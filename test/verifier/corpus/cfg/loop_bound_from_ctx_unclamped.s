# The trip count is the packet length with no upper bound: the verifier would have to walk every
# possible length and runs out of its one-million-instruction budget.
# log-size: 67108864
# expect: reject E2BIG
# log: BPF program is too large. Processed 1000001 insn
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r3 -= r2
r1 = 0
head:
r1 += 1
if r1 < r3 goto head
r0 = 2
exit
