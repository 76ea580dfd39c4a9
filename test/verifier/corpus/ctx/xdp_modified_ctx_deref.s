# Moving the context pointer and then loading through it.
# expect: reject EACCES
# log: dereference of modified ctx ptr R1 off=12 disallowed
r1 += 12
r0 = *(u32 *)(r1 + 0)
r0 = 2
exit
