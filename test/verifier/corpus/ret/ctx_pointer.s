# Returning the context pointer itself.
# expect: accept
r0 = r1
exit
