# bpf_redirect(ifindex, flags).
# expect: accept
r1 = 1
r2 = 0
call 23
exit
