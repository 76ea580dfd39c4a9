import { describe, expect, it } from 'vitest';
import { OPS, OPS_BY_NAME, findOp, BPF_ALU64, BPF_ADD, BPF_X, BPF_JMP32, BPF_JA } from '../../src/bpf/opcodes.js';
import { checkInsn, decodeProgram, decodeRaw, encode, insn } from '../../src/bpf/insn.js';
import { BpfError } from '../../src/bpf/errno.js';

/** An instruction that selects `op`, with every field it uses set to something non-zero. */
function sample(op: (typeof OPS)[number]) {
  return insn(op.code, op.fields.dst ? 3 : 0, op.match.src ?? (op.fields.src ? 4 : 0), op.match.off ?? (op.fields.off ? -7 : 0), op.match.imm ?? (op.fields.imm ? 0x1234 : 0));
}

describe('the BPF opcode table', () => {
  it('has one entry per instruction, each found again from its own encoding', () => {
    expect(OPS.length).toBe(OPS_BY_NAME.size);
    for (const op of OPS) {
      const x = sample(op);
      expect(findOp(x.code, x.src, x.off, x.imm), op.name).toBe(op);
    }
  });

  it('covers the RFC 9669 groups', () => {
    for (const n of ['add', 'add32', 'sdiv', 'smod32', 'movsx864', 'movsx3264', 'be16', 'le64', 'bswap32', 'ja', 'ja32',
      'jsle32', 'call', 'call_local', 'call_kfunc', 'callx', 'exit', 'lddw', 'lddw_map_fd', 'lddw_func', 'ldabsh', 'ldindb',
      'ldxsw', 'ldxdw', 'stb', 'stxdw', 'lock_add', 'lock_fetch_xor32', 'lock_xchg', 'lock_cmpxchg32']) {
      expect(OPS_BY_NAME.has(n) || OPS.some((o) => o.mnemonic === n), n).toBe(true);
    }
    expect(OPS_BY_NAME.has('movsx3232')).toBe(false);
    expect(OPS_BY_NAME.has('ldxsdw')).toBe(false);
  });

  it('decodes what it encodes', () => {
    const prog = OPS.filter((o) => o.kind !== 'lddw').map(sample);
    expect(decodeRaw(encode(prog))).toEqual(prog);
  });
});

describe('decodeProgram', () => {
  const exit = insn(0x95);
  const reason = (bytes: Uint8Array) => {
    try { decodeProgram(bytes); return null; } catch (e) { expect(e).toBeInstanceOf(BpfError); return (e as BpfError).message; }
  };

  it('accepts a valid program', () => {
    expect(decodeProgram(encode([insn(0xb7, 0, 0, 0, 1), exit]))).toHaveLength(2);
  });

  it('names the index and the reason for malformed instructions', () => {
    expect(reason(encode([insn(0xb7, 0, 1, 0, 1), exit]))).toBe('insn 0: mov_imm uses reserved fields: src_reg 1');
    expect(reason(encode([exit, insn(BPF_ALU64 | BPF_ADD | BPF_X, 0, 12)]))).toBe('insn 1: invalid src register r12');
    expect(reason(encode([insn(0xb7, 11, 0, 0, 1), exit]))).toBe('insn 0: invalid dst register r11');
    expect(reason(encode([exit, insn(0x18, 0, 0, 0, 1)]))).toBe('insn 1: truncated lddw: missing second slot');
    expect(reason(encode([insn(0xff), exit]))).toBe('insn 0: unknown opcode 0xff');
    expect(reason(encode([insn(0x3f, 0, 1, 2), exit]))).toBe('insn 0: invalid off 2 for opcode 0x3f');
    expect(reason(encode([insn(BPF_JMP32 | BPF_JA, 0, 0, 3, 0), exit]))).toBe('insn 0: ja32 uses reserved fields: off 3');
    expect(reason(new Uint8Array(12))).toMatch(/not a multiple of 8/);
  });

  it('checks the second slot of lddw', () => {
    expect(checkInsn([insn(0x18, 1, 0, 0, 5), insn(0, 0, 0, 0, 7)], 0)).toBeNull();
    expect(checkInsn([insn(0x18, 1, 0, 0, 5), insn(0, 1, 0, 0, 7)], 0)).toMatch(/second slot/);
  });
});
