# Any scalar may be an XDP return value.
# expect: accept
r0 = 1000
exit
