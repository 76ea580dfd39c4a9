# A backward jump to before the first instruction.
# expect: reject EINVAL
# log: jump out of range from insn 1 to -1
r0 = 2
goto -3
exit
