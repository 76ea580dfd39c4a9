# A jump that lands on the second half of a 16-byte lddw.
# expect: reject EINVAL
# log: jump into the middle of ldimm64 insn 2
r0 = 2
if r1 == 0 goto +1
r2 = 0x1122334455667788 ll
exit
