// The numeric half of a register's verifier state (include/linux/bpf_verifier.h struct bpf_reg_state):
// a tnum (known bits) and signed/unsigned bounds for the full 64 bits and for the low 32 bits. Pointers
// carry one too, for their variable offset. Values are bigint here: the verifier runs once per load,
// not per packet, and exact 64-bit arithmetic keeps it obviously faithful to the kernel's u64/s64 code.
//
// The arithmetic on these (kernel/bpf/tnum.c and the verifier's scalar_min_max_*, reg_bounds_sync,
// reg_set_min_max) is in tnum.ts and bounds.ts.

/** struct tnum: `value` holds the known bits, `mask` the unknown ones (value & mask == 0). */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export interface ScalarBounds {
  var_off: Tnum;
  smin_value: bigint;
  smax_value: bigint;
  umin_value: bigint;
  umax_value: bigint;
  s32_min_value: bigint;
  s32_max_value: bigint;
  u32_min_value: bigint;
  u32_max_value: bigint;
}

export const U64_MAX = (1n << 64n) - 1n;
export const S64_MAX = (1n << 63n) - 1n;
export const S64_MIN = -(1n << 63n);
export const U32_MAX = (1n << 32n) - 1n;
export const S32_MAX = (1n << 31n) - 1n;
export const S32_MIN = -(1n << 31n);
