# bpf_get_current_pid_tgid (14) is one of the base helpers every program type gets on this kernel,
# XDP included.
# expect: accept
call 14
r0 = 2
exit
