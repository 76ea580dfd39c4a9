# The truncated pointer of ptr_mov32 is a number: dereferencing it is refused.
# expect: reject EACCES
# log: R2 invalid mem access 'scalar'
w2 = w1
r0 = *(u32 *)(r2 + 0)
r0 = 2
exit
