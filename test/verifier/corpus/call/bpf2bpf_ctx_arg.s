# The subprogram receives the context in r1 and reads ingress_ifindex from it.
# expect: accept
call sub
r0 = 2
exit
sub:
r0 = *(u32 *)(r1 + 12)
exit
