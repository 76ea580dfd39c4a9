// include/linux/jhash.h: Bob Jenkins' lookup3 hash as the kernel uses it for hash maps
// (htab_map_hash: jhash2() over u32 words when the key length is a multiple of 4, jhash() over bytes
// otherwise; on a little-endian host both give the same value for such keys, so the byte-wise
// function serves any key, and the word-wise ones below serve the datapath's keys of 4, 8 and 16
// bytes, already loaded as words). With BPF_F_ZERO_SEED the seed is 0 and the bucket of every key, hence the
// BPF_MAP_GET_NEXT_KEY order, matches a real kernel's.

const JHASH_INITVAL = 0xdeadbeef;
/** JHASH_INITVAL as an int32, so that the start value is computed in int32 arithmetic. */
const JHASH_INITVAL_I32 = JHASH_INITVAL | 0;

function rol32(x: number, s: number): number {
  return (x << s) | (x >>> (32 - s));
}

/** jhash(key, length, initval) over buf[off, off+len), as an unsigned 32-bit number. No allocation. */
export function jhash(buf: Uint8Array, off: number, len: number, initval: number): number {
  return jhash_i32(buf, off, len, initval | 0) >>> 0;
}

/**
 * jhash() as an int32 (the same 32 bits). The hash map's paths use this form: a function that
 * returns an unsigned value of 2^31 or more returns a heap number, an allocation per call where V8
 * does not inline it.
 */
export function jhash_i32(buf: Uint8Array, off: number, len: number, initval: number): number {
  let a = (((JHASH_INITVAL_I32 + len) | 0) + initval) | 0;
  let b = a;
  let c = a;
  let k = off;
  let length = len;
  while (length > 12) {
    a = (a + (buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24))) | 0;
    b = (b + (buf[k + 4]! | (buf[k + 5]! << 8) | (buf[k + 6]! << 16) | (buf[k + 7]! << 24))) | 0;
    c = (c + (buf[k + 8]! | (buf[k + 9]! << 8) | (buf[k + 10]! << 16) | (buf[k + 11]! << 24))) | 0;
    // __jhash_mix
    a = (a - c) | 0; a ^= rol32(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rol32(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rol32(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rol32(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rol32(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rol32(b, 4); b = (b + a) | 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The tail (the kernel's fall-through switch): bytes 0..3 go to a, 4..7 to b, 8..11 to c,
  // little-endian within each word.
  if (length >= 12) c = (c + (buf[k + 11]! << 24)) | 0;
  if (length >= 11) c = (c + (buf[k + 10]! << 16)) | 0;
  if (length >= 10) c = (c + (buf[k + 9]! << 8)) | 0;
  if (length >= 9) c = (c + buf[k + 8]!) | 0;
  if (length >= 8) b = (b + (buf[k + 7]! << 24)) | 0;
  if (length >= 7) b = (b + (buf[k + 6]! << 16)) | 0;
  if (length >= 6) b = (b + (buf[k + 5]! << 8)) | 0;
  if (length >= 5) b = (b + buf[k + 4]!) | 0;
  if (length >= 4) a = (a + (buf[k + 3]! << 24)) | 0;
  if (length >= 3) a = (a + (buf[k + 2]! << 16)) | 0;
  if (length >= 2) a = (a + (buf[k + 1]! << 8)) | 0;
  a = (a + buf[k]!) | 0;
  return jhash_final(a, b, c);
}

/** __jhash_final(a, b, c): the value is c, as an int32. */
function jhash_final(a: number, b: number, c: number): number {
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c;
}

/**
 * The start value of a, b and c for a key of `len` bytes (JHASH_INITVAL + length + initval), which a
 * hash map computes once for its key size and seed.
 */
export function jhash_init(len: number, initval: number): number {
  return (((JHASH_INITVAL_I32 + len) | 0) + (initval | 0)) | 0;
}

// jhash2() over a key of 1, 2 or 4 little-endian u32 words (k0 first), from the start value
// jhash_init(4 * words, initval): the same value as jhash() over the key's bytes on a little-endian
// host. The words are int32s as Int32Array and DataView.getInt32 give them; so is the result.

/** jhash2() of a one-word key (htab_map_hash's case for 4-byte keys). */
export function jhash2_1word(k0: number, init: number): number {
  return jhash_final((init + k0) | 0, init, init);
}

/** jhash2() of a two-word key (8-byte keys). */
export function jhash2_2words(k0: number, k1: number, init: number): number {
  return jhash_final((init + k0) | 0, (init + k1) | 0, init);
}

/** jhash2() of a four-word key (16-byte keys): one __jhash_mix over the first three words. */
export function jhash2_4words(k0: number, k1: number, k2: number, k3: number, init: number): number {
  let a = (init + k0) | 0;
  let b = (init + k1) | 0;
  let c = (init + k2) | 0;
  a = (a - c) | 0; a ^= rol32(c, 4); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 6); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 8); b = (b + a) | 0;
  a = (a - c) | 0; a ^= rol32(c, 16); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 19); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 4); b = (b + a) | 0;
  return jhash_final((a + k3) | 0, b, c);
}

/**
 * jhash2() over 1, 2 or 4 key words as JavaScript statements, for code generators that cannot count
 * on V8 inlining a call (HashTab.gen_lookup): the same steps as jhash2_1word/2words/4words, leaving
 * the int32 hash in abc[2]. keys: int32 expressions; init: jhash_init(4 * keys.length, seed);
 * abc: three int32 locals.
 */
export function jhash2_source(keys: readonly string[], init: number, abc: readonly [string, string, string]): string {
  const [a, b, c] = abc;
  const rol = (x: string, k: number): string => `((${x} << ${k}) | (${x} >>> ${32 - k}))`;
  const out: string[] = [];
  if (keys.length === 4) {
    out.push(`${a} = (${init} + ${keys[0]}) | 0; ${b} = (${init} + ${keys[1]}) | 0; ${c} = (${init} + ${keys[2]}) | 0;`);
    // __jhash_mix
    const mix: [string, string, string, number][] = [[a, c, b, 4], [b, a, c, 6], [c, b, a, 8], [a, c, b, 16], [b, a, c, 19], [c, b, a, 4]];
    for (const [x, y, z, k] of mix) out.push(`${x} = (${x} - ${y}) | 0; ${x} ^= ${rol(y, k)}; ${y} = (${y} + ${z}) | 0;`);
    out.push(`${a} = (${a} + ${keys[3]}) | 0;`);
  } else if (keys.length === 2) {
    out.push(`${a} = (${init} + ${keys[0]}) | 0; ${b} = (${init} + ${keys[1]}) | 0; ${c} = ${init};`);
  } else if (keys.length === 1) {
    out.push(`${a} = (${init} + ${keys[0]}) | 0; ${b} = ${init}; ${c} = ${init};`);
  } else {
    throw new Error(`BUG: jhash2_source for ${keys.length} words`);
  }
  // __jhash_final
  const fin: [string, string, number][] = [[c, b, 14], [a, c, 11], [b, a, 25], [c, b, 16], [a, c, 4], [b, a, 14], [c, b, 24]];
  for (const [x, y, k] of fin) out.push(`${x} ^= ${y}; ${x} = (${x} - ${rol(y, k)}) | 0;`);
  return out.join(' ');
}
