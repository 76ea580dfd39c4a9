# A count-down loop from 64 to 0.
# expect: accept
r0 = 2
r1 = 64
head:
r1 -= 1
if r1 != 0 goto head
exit
