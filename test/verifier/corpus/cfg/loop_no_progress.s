# A loop whose body changes nothing: the verifier meets the very same state at the loop head again.
# expect: reject EINVAL
# log: infinite loop detected at insn 3
r0 = 2
r1 = 0
head:
r2 = 1
if r1 < 10 goto head
exit
