# A kfunc call (src_reg = BPF_PSEUDO_KFUNC_CALL) whose BTF id names no function of the kernel.
# expect: reject EINVAL
# log: kernel btf_id 12345 is not a function
call kfunc 12345
r0 = 2
exit
