# bpf_fib_lookup() with plen 64 and a buffer that starts 32 bytes below r10.
# expect: reject EINVAL
# log: invalid write to stack R2 off=-32 size=64
r6 = r1
r1 = 0
*(u64 *)(r10 - 32) = r1
r2 = r10
r2 += -32
r1 = r6
r3 = 64
r4 = 0
call 69
r0 = 2
exit
