# bpf_tail_call() with the index argument r3 never set.
# map: jt prog_array key=4 value=4 entries=4
# expect: reject EACCES
# log: R3 !read_ok
ld_pseudo r2, 1, 0
call 12
r0 = 2
exit
