# The last instruction is a conditional jump whose fall-through leaves the program.
# expect: reject EINVAL
# log: last insn is not an exit or jmp
r0 = 2
l1:
if r0 == 2 goto l1
