# A byte swap of the context pointer: a privileged program may turn a pointer into a number this
# way (allow_ptr_leaks); the result is an unknown scalar.
# expect: accept
r1 = be64 r1
r0 = 2
exit
