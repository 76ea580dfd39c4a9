# Loading into r10.
# expect: reject EACCES
# log: frame pointer is read only
r10 = *(u32 *)(r1 + 0)
r0 = 2
exit
