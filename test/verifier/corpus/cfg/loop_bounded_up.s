# for (i = 0; i < 10; i++): a bounded loop, explored once per iteration.
# expect: accept
r0 = 0
r1 = 0
head:
r0 += r1
r1 += 1
if r1 < 10 goto head
r0 = 2
exit
