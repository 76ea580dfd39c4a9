# `goto -1` jumps to itself forever.
# expect: reject EINVAL
# log: infinite loop detected at insn 1
r0 = 2
l:
goto l
