# r6-r9 survive a call.
# expect: accept
r6 = 2
call sub
r0 = r6
exit
sub:
r6 = 7
r0 = 0
exit
