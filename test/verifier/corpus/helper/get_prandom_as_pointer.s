# A helper's result is a number: dereferencing it is not allowed.
# expect: reject EACCES
# log: R0 invalid mem access 'scalar'
call 7
r0 = *(u32 *)(r0 + 0)
r0 = 2
exit
