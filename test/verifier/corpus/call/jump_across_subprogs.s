# A jump from main into the body of a subprogram.
# expect: reject EINVAL
# log: jump out of range from insn 0 to 5
if r1 == 0 goto inside
call sub
r0 = 2
exit
sub:
r0 = 1
inside:
exit
