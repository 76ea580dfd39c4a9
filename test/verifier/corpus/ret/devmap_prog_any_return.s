# A program attached to a devmap entry (expected_attach_type BPF_XDP_DEVMAP) returning XDP_REDIRECT,
# which the devmap does not act on. This kernel checks no return range for XDP, devmap or not.
# attach: 33
# expect: accept
r0 = 4
exit
