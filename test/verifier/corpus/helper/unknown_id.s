# Helper 999 does not exist.
# expect: reject EINVAL
# log: invalid func unknown#999
call 999
r0 = 2
exit
