# A map reference whose fd is not a map.
# fd: raw
# expect: reject EBADF
# log: fd 99 is not pointing to valid bpf_map
ld_pseudo r1, 1, 99
r0 = 2
exit
