# rx_queue_index is writable only by a program offloaded to a device; on the host it is read only.
# expect: reject EACCES
# log: invalid bpf_context access off=16 size=4
*(u32 *)(r1 + 16) = 0
r0 = 2
exit
