# The budget-exhausting loop of loop_too_many_iterations with a 1 MiB log: the level-1 trace does not
# fit, the log keeps its newest part, and the load fails with ENOSPC rather than E2BIG.
# log-size: 1048576
# expect: reject ENOSPC
# log: BPF program is too large. Processed 1000001 insn
r0 = 2
r1 = 0
head:
r1 += 1
if r1 < 0x1000000 goto head
exit
