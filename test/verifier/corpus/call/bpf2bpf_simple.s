# main calls a subprogram that returns XDP_PASS.
# expect: accept
call sub
exit
sub:
r0 = 2
exit
