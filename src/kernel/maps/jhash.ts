// include/linux/jhash.h: Bob Jenkins' lookup3 hash as the kernel uses it for hash maps
// (htab_map_hash: jhash2() over u32 words when the key length is a multiple of 4, jhash() over bytes
// otherwise; on a little-endian host both give the same value for such keys, so one byte-wise
// function serves). With BPF_F_ZERO_SEED the seed is 0 and the bucket of every key, hence the
// BPF_MAP_GET_NEXT_KEY order, matches a real kernel's.

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, s: number): number {
  return (x << s) | (x >>> (32 - s));
}

/** jhash(key, length, initval) over buf[off, off+len), as an unsigned 32-bit number. No allocation. */
export function jhash(buf: Uint8Array, off: number, len: number, initval: number): number {
  let a = (JHASH_INITVAL + len + initval) | 0;
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
  if (length === 0) return c >>> 0;
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
  // __jhash_final
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}

/**
 * jhash2() of a one-word key (htab_map_hash's case for 4-byte keys): what jhash() gives for the same
 * four bytes on a little-endian host, without reading them one by one.
 */
export function jhash_1word(k: number, initval: number): number {
  let a = (JHASH_INITVAL + 4 + initval) | 0;
  let b = a;
  let c = a;
  a = (a + k) | 0;
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}

