# A branch on a known constant: the verifier walks only the taken side, the other side stays legal
# code that is never checked (it would read an uninitialized register).
# expect: accept
r0 = 2
if r0 == 2 goto out
r0 = r5
out:
exit
