# Moving the frame pointer.
# expect: reject EACCES
# log: frame pointer is read only
r10 += -8
r0 = 2
exit
