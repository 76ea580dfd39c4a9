# A bpf-to-bpf call whose target lies past the end of the program.
# expect: reject EINVAL
# log: call to invalid destination
call pc+10
r0 = 2
exit
