# A forward jump past the last instruction.
# expect: reject EINVAL
# log: jump out of range from insn 1 to 7
r0 = 2
if r1 == 0 goto +5
exit
