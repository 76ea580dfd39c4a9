# bpf_skb_store_bytes (9) works on socket buffers; XDP programs do not have it.
# expect: reject EINVAL
# log: program of this type cannot use helper bpf_skb_store_bytes#9
r2 = 0
r3 = 0
r4 = 0
r5 = 0
call 9
r0 = 2
exit
