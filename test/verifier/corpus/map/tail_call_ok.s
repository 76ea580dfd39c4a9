# bpf_tail_call() through a program array.
# map: jt prog_array key=4 value=4 entries=4
# expect: accept
ld_pseudo r2, 1, 0
r3 = 0
call 12
r0 = 2
exit
