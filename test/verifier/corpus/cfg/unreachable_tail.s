# Code after the only exit can never run.
# expect: reject EINVAL
# log: unreachable insn 2
r0 = 2
exit
r0 = 1
exit
