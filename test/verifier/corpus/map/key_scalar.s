# The key argument is a plain number, not a pointer.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_
r2 = 0
ld_pseudo r1, 1, 0
call 1
r0 = 2
exit
