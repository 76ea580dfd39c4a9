# A subprogram that calls itself. This kernel walks the recursion like any other call and stops at the
# frame limit.
# expect: reject E2BIG
# log: the call stack of 9 frames is too deep
call sub
r0 = 2
exit
sub:
call sub
r0 = 1
exit
