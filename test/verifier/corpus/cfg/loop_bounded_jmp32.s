# A loop bounded by a 32-bit comparison on a w register.
# expect: accept
w0 = 2
w1 = 0
head:
w1 += 3
if w1 < 90 goto head
exit
