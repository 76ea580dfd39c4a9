# The key is 4 bytes but only 2 packet bytes are checked.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: invalid access to packet, off=0 size=4, R2(id=0,off=0,r=2)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 2
if r4 > r3 goto out
ld_pseudo r1, 1, 0
call 1
out:
r0 = 2
exit
