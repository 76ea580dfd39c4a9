# bpf_tail_call() needs a program array, not a plain array.
# map: m array key=4 value=4 entries=4
# expect: reject EINVAL
# log: expected prog array map for tail call
ld_pseudo r2, 1, 0
r3 = 0
call 12
r0 = 2
exit
