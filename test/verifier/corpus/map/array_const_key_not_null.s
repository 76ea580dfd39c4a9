# An ARRAY lookup with a constant key below max_entries cannot fail, and this kernel knows it: the
# result is a map value, not map_value_or_null, and needs no NULL check.
# map: m array key=4 value=8 entries=4
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 = *(u64 *)(r0 + 0)
r0 = 2
exit
