# The key pointer is r10 - 516, below the 512-byte stack.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: invalid read from stack R2 off=-516 size=4
r2 = r10
r2 += -516
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
