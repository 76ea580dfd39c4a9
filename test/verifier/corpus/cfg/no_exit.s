# The program ends on an ALU instruction: execution would run off the end.
# expect: reject EINVAL
# log: last insn is not an exit or jmp
r0 = 2
