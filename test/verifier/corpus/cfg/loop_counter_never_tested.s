# The loop tests r1, which never changes, while r0 counts up: every state at the loop head is new
# (r0 differs), so the verifier walks until its one-million-instruction budget is spent.
# log-size: 67108864
# expect: reject E2BIG
# log: BPF program is too large. Processed 1000001 insn
r0 = 2
r1 = 0
head:
r0 += 1
if r1 < 10 goto head
exit
