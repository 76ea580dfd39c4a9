# A 32-bit move of a pointer truncates it into a number.
# expect: accept
w2 = w1
r0 = 2
exit
