# cmpxchg on an initialized stack slot (r0 is the comparand and receives the old value).
# expect: accept
r1 = 5
*(u64 *)(r10 - 8) = r1
r0 = 5
r2 = 9
r0 = cmpxchg_64(r10 - 8, r0, r2)
r0 = 2
exit
