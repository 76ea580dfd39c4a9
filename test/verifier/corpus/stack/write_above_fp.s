# Offset 0 from r10 is above the stack (the frame pointer points just past it).
# expect: reject EACCES
# log: invalid write to stack R10 off=0 size=8
r1 = 0
*(u64 *)(r10 + 0) = r1
r0 = 2
exit
