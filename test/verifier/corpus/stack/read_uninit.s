# Reads a stack slot nothing was written to. Accepted: a privileged loader (CAP_PERFMON, as
# here) may read uninitialized stack (env->allow_uninit_stack); only unprivileged ones get
# "invalid read from stack".
# expect: accept
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
