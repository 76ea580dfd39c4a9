# An arithmetic shift by 63 is in range.
# expect: accept
r0 = -5
r0 s>>= 63
r0 = 2
exit
