# A stack pointer plus a full u32: no bound at all on where it points.
# expect: reject EACCES
# log: misaligned stack access off (0x0; 0xffffffff)+0+-8 size 8
r2 = *(u32 *)(r1 + 12)
r3 = r10
r3 += r2
r4 = 0
*(u64 *)(r3 - 8) = r4
r0 = 2
exit
