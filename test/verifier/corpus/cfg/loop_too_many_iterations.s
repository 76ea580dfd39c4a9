# A constant bound that is simply too large to walk (2^24 iterations).
# log-size: 67108864
# expect: reject E2BIG
# log: BPF program is too large. Processed 1000001 insn
r0 = 2
r1 = 0
head:
r1 += 1
if r1 < 0x1000000 goto head
exit
