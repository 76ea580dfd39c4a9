# Adding two pointers.
# expect: reject EACCES
# log: R2 pointer += pointer prohibited
r2 = r10
r2 += r1
r0 = 2
exit
