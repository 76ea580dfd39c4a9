# Each of three frames uses 256 bytes of stack: 768 bytes combined, over the 512-byte limit.
# expect: reject EACCES
# log: combined stack size of 3 calls is 768. Too large
r1 = 0
*(u64 *)(r10 - 256) = r1
call f1
r0 = 2
exit
f1:
r1 = 0
*(u64 *)(r10 - 256) = r1
call f2
exit
f2:
r1 = 0
*(u64 *)(r10 - 256) = r1
r0 = 2
exit
