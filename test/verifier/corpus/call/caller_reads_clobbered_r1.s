# r1-r5 are scratch across a call: reading r1 afterwards uses an undefined value.
# expect: reject EACCES
# log: R1 !read_ok
call sub
r0 = r1
exit
sub:
r0 = 2
exit
