# bpf_csum_diff() over 20 packet bytes of which only 14 are checked.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=20, R3(id=0,off=0,r=14)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto out
r1 = 0
r3 = r2
r2 = 0
r4 = 20
r5 = 0
call 28
out:
r0 = 2
exit
