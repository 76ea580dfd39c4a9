# The context pointer moved by 4 is no longer an acceptable ctx argument.
# expect: reject EACCES
# log: dereference of modified ctx ptr R1 off=4 disallowed
r1 += 4
r2 = 0
call 44
r0 = 2
exit
