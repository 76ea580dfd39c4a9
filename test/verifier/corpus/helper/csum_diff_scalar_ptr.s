# A number where a memory pointer is expected, with a non-zero size.
# expect: reject EACCES
# log: R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_
r1 = 4096
r2 = 8
r3 = 0
r4 = 0
r5 = 0
call 28
r0 = 2
exit
