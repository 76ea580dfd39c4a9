# The read of misaligned_read_relaxed with BPF_F_STRICT_ALIGNMENT: the kernel assumes NET_IP_ALIGN (2)
# bytes before the packet, so offset 13 is 15 from an aligned address.
# flags: strict_alignment
# expect: reject EACCES
# log: misaligned packet access off 2+0+0+13 size 4
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 20
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 13)
out:
r0 = 2
exit
