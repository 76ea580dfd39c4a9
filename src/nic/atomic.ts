// The NFP's atomic engine as seen from BPF: memory words are big-endian on the NIC, so a counter that a
// program bumps with BPF_ATOMIC_ADD (the JIT emits the engine's ADD / ADD_IMM commands) is stored
// big-endian, and the host driver byte-swaps those words on every lookup and update
// (nfp_map_bpf_byte_swap() in drivers/net/ethernet/netronome/nfp/bpf/offload.c). A 64-bit counter is
// two 32-bit words, low word first, each big-endian: the driver swaps each word on its own.
//
// JavaScript's Atomics work in the host's (little-endian) byte order, so a big-endian add is a
// compare-and-swap loop over the byte-swapped word.
//
// A 64-bit add is done on the 32-bit halves, without BigInt, in the common case: when the carry out of
// the low word cancels the high half of the addend ((hi + carry) mod 2^32 = 0: a small positive add
// that does not overflow the low word, or a small negative one that borrows nothing), the high word
// does not change, so one CAS on the low word alone is the whole 64-bit add — linearisable at that CAS
// whatever the high word holds, and a 64-bit atomic load by a reader sees the counter before or after
// it, never half-done. Only an add that changes the high word (a carry, a borrow, an addend of 2^32 or
// more) swaps both words in one 64-bit CAS through a BigInt64Array view of the same bytes. The
// discipline that lets the two kinds mix: every read-modify-write of a counter is a CAS covering every
// word its result depends on (the low-word CAS depends on the low word only), and other writes replace
// a value whole with atomic stores (the host's updates), so no update is lost. Mixed-size atomics on the same bytes are what the NIC memory already sees (64-bit
// value copies next to 32-bit adds); the hardware under V8 (x86-64 lock cmpxchg, arm64 exclusives)
// keeps them atomic.

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
 * Atomic add of the 64-bit addend (hi:lo, each a 32-bit word in either signedness) to the counter at
 * 8-byte index `idx` (two big-endian words, low first). `i32` and `i64` view the same bytes. No BigInt
 * unless the add changes the high word (see the top of the file).
 */
export function nfp_atomic_add_be64(i32: Int32Array, i64: BigInt64Array, idx: number, lo: number, hi: number): void {
  const w = 2 * idx;
  const add = lo >>> 0;
  for (;;) {
    const raw = Atomics.load(i32, w);
    const sum = (bswap32(raw) >>> 0) + add;
    if (((hi + (sum > 0xffffffff ? 1 : 0)) | 0) !== 0) break;
    if (Atomics.compareExchange(i32, w, raw, bswap32(sum | 0)) === raw) return;
  }
  nfp_atomic_add_be64_wide(i64, idx, (BigInt(hi >>> 0) << 32n) | BigInt(add));
}

/** The add that changes both words: one 64-bit CAS over them. Off the hot path (a carry is rare). */
function nfp_atomic_add_be64_wide(i64: BigInt64Array, idx: number, delta: bigint): void {
  for (;;) {
    const old = Atomics.load(i64, idx);
    const next = encode64(BigInt.asUintN(64, decode64(old) + delta));
    if (Atomics.compareExchange(i64, idx, old, next) === old) return;
  }
}

/** An atomic read of a 64-bit counter (two big-endian words, low first), in host order. */
export function nfp_atomic_read_be64(i64: BigInt64Array, idx: number): bigint {
  return decode64(Atomics.load(i64, idx));
}
