# r10 (the frame pointer) is read only.
# expect: reject EACCES
# log: frame pointer is read only
r10 = 0
r0 = 2
exit
