# A helper's 64-bit result (bpf_ktime_get_ns) has no bounds at all; adding it to a packet pointer is
# refused at the addition.
# expect: reject EINVAL
# log: math between pkt pointer and register with unbounded min value is not allowed
r6 = *(u32 *)(r1 + 0)
call 5
r6 += r0
r0 = 2
exit
