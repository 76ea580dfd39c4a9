# An unconditional jump over an instruction leaves it unreachable.
# expect: reject EINVAL
# log: unreachable insn 2
r0 = 2
goto +1
r0 = 1
exit
