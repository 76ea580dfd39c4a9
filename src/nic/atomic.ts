// The NFP's atomic engine as seen from BPF: memory words are big-endian on the NIC, so a counter that a
// program bumps with BPF_ATOMIC_ADD (the JIT emits the engine's ADD / ADD_IMM commands) is stored
// big-endian, and the host driver byte-swaps those words on every lookup and update
// (nfp_map_bpf_byte_swap() in drivers/net/ethernet/netronome/nfp/bpf/offload.c). A 64-bit counter is
// two 32-bit words, low word first, each big-endian: the driver swaps each word on its own.
//
// JavaScript's Atomics work in the host's (little-endian) byte order, so a big-endian add is a
// compare-and-swap loop over the byte-swapped word. The 64-bit add swaps all eight bytes in one CAS, so
// a reader using a 64-bit atomic load never sees the carry half-done.

/** Byte-swap a 32-bit word (cpu_to_be32 on a little-endian host); result as int32. */
export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/**
 * Atomic add of `delta` to the big-endian 32-bit word `idx` of `i32`; returns the old value in host
 * order (uint32). Lock-free: retries only when another thread changed the word in between.
 */
export function nfp_atomic_add_be32(i32: Int32Array, idx: number, delta: number): number {
  for (;;) {
    const old = Atomics.load(i32, idx);
    const next = bswap32((bswap32(old) + delta) | 0);
    if (Atomics.compareExchange(i32, idx, old, next) === old) return bswap32(old) >>> 0;
  }
}

/** An atomic read of a big-endian 32-bit word, in host order (uint32). */
export function nfp_atomic_read_be32(i32: Int32Array, idx: number): number {
  return bswap32(Atomics.load(i32, idx)) >>> 0;
}

const U32 = 0xffffffffn;

/** The host-order value of a 64-bit counter stored as two big-endian words, low word first. */
function decode64(raw: bigint): bigint {
  const lo = BigInt(bswap32(Number(raw & U32)) >>> 0);
  const hi = BigInt(bswap32(Number((raw >> 32n) & U32)) >>> 0);
  return (hi << 32n) | lo;
}

function encode64(v: bigint): bigint {
  const lo = BigInt(bswap32(Number(v & U32)) >>> 0);
  const hi = BigInt(bswap32(Number((v >> 32n) & U32)) >>> 0);
  return BigInt.asIntN(64, (hi << 32n) | lo);
}

/**
 * Atomic add of `delta` to the 64-bit counter at 8-byte index `idx` of `i64` (two big-endian words, low
 * first); returns the old value (uint64). Both words change in one compare-and-swap.
 */
export function nfp_atomic_add_be64(i64: BigInt64Array, idx: number, delta: bigint): bigint {
  for (;;) {
    const old = Atomics.load(i64, idx);
    const prev = decode64(old);
    const next = encode64(BigInt.asUintN(64, prev + delta));
    if (Atomics.compareExchange(i64, idx, old, next) === old) return prev;
  }
}

/** An atomic read of a 64-bit counter (two big-endian words, low first), in host order. */
export function nfp_atomic_read_be64(i64: BigInt64Array, idx: number): bigint {
  return decode64(Atomics.load(i64, idx));
}
