# bpf_redirect_map() through a devmap.
# map: tx devmap key=4 value=4 entries=4
# expect: accept
ld_pseudo r1, 1, 0
r2 = 0
r3 = 0
call 51
exit
