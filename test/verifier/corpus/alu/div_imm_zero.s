# Division by the immediate 0 is refused outright.
# expect: reject EINVAL
# log: div by zero
r0 = 10
r0 /= 0
exit
