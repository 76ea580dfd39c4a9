# An ARRAY lookup with a key from the packet (not a constant) may fail: the NULL check is needed.
# map: m array key=4 value=8 entries=4
# expect: reject EACCES
# log: R0 invalid mem access 'map_value_or_null'
r3 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = r3
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 = *(u64 *)(r0 + 0)
r0 = 2
exit
