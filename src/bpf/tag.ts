// The program tag, as the kernel's bpf_prog_calc_tag() (kernel/bpf/core.c) computes it: a digest of the
// instructions exactly as BPF_PROG_LOAD received them (the verifier calls it first thing in
// resolve_pseudo_ldimm64(), before it rewrites anything), with the immediates of both slots of every
// map-fd / map-value lddw zeroed because fds are not stable across loads. The tag is the first 8 bytes
// of the digest, printed as 16 hex digits (`bpftool prog show` "tag"). Kernels up to 6.17 digest with
// SHA-1; from 6.18 ("bpf: Update the bpf_prog_calc_tag to use SHA256", for signed programs) the
// digest is SHA-256 and the tag is its first 8 bytes.

import { createHash } from 'node:crypto';
import type { Insn } from './insn.js';
import { BPF_DW, BPF_IMM, BPF_INSN_SIZE, BPF_LD, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from './opcodes.js';

export type TagDigest = 'sha1' | 'sha256';

/** The digest the kernel of the given version uses for the tag. */
export function tagDigestForKernel(major: number, minor: number): TagDigest {
  return major > 6 || (major === 6 && minor >= 18) ? 'sha256' : 'sha1';
}

const LDDW = BPF_LD | BPF_IMM | BPF_DW;

/** The bytes the kernel digests: the encoded program with map-fd/map-value lddw immediates zeroed. */
export function tagInput(insns: readonly Insn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * BPF_INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  let wasLdMap = false;
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    let imm = x.imm;
    // The same walk as the kernel: the first slot of a map lddw, then a well-formed second slot.
    if (!wasLdMap && x.code === LDDW && (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE)) {
      wasLdMap = true;
      imm = 0;
    } else if (wasLdMap && x.code === 0 && x.dst === 0 && x.src === 0 && x.off === 0) {
      wasLdMap = false;
      imm = 0;
    } else {
      wasLdMap = false;
    }
    const p = i * BPF_INSN_SIZE;
    bytes[p] = x.code;
    bytes[p + 1] = (x.dst & 0x0f) | ((x.src & 0x0f) << 4);
    dv.setInt16(p + 2, x.off, true);
    dv.setInt32(p + 4, imm, true);
  }
  return bytes;
}

/** bpf_prog_calc_tag(): 16 lower-case hex digits. `digest` defaults to SHA-256 (Linux 6.18 and later). */
export function progTag(insns: readonly Insn[], digest: TagDigest = 'sha256'): string {
  return createHash(digest).update(tagInput(insns)).digest('hex').slice(0, 16);
}
