# The first subprogram has no exit and would run into the next one.
# expect: reject EINVAL
# log: last insn is not an exit or jmp
call sub1
call sub2
r0 = 2
exit
sub1:
r0 = 1
sub2:
r0 = 2
exit
