# Three argument-less helpers in a row; each result is a number.
# expect: accept
call 5
r6 = r0
call 7
r6 += r0
call 8
r6 += r0
r0 = 2
exit
