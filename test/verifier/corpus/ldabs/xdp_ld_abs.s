# XDP programs have no classic packet loads.
# expect: reject EINVAL
# log: BPF_LD_[ABS|IND] instructions not allowed for this program type
r6 = r1
r0 = *(u8 *)skb[12]
exit
