// Hand-assembled NFP images that follow the JIT<->firmware contract (/work/notes/contract-fw-abi.md),
// for the datapath tests and the bench until the NFP JIT produces them from test/progs: each reads the
// packet vector through LM pointer 1, masks pv_len itself, reaches the packet in CTM through
// pv_ctm_ptr, calls helpers with A0 = table id and B0 = the return address, and leaves the verdict in
// A0 bits 23:16 as nfp_outro_xdp does before branching to BPF_DONE. Also packet builders.

import { assemble, buildImage } from '../../src/nic/asm.js';
import { nfpPlacedProg, type NfpProgLoad } from '../../src/drivers/nfp/xdp.js';

/** The shipped BPF images' BPF_START, BPF_DONE and FUNC addresses (firmware/images/nfp-bpf-*.yaml). */
export const BPF_START = 256;
export const BPF_DONE = 16;
export const FUNC_MAP_LOOKUP = 0x40;
export const FUNC_MAP_UPDATE = 0x60;
export const FUNC_MAP_DELETE = 0x80;
export const FUNC_PERF_EVENT_OUTPUT = 0xa0;

const INTRO = `
  immed[gprA_20, 0x3fff]
  alu[gprB_22, gprA_20, AND, *l$index1[0]]   ; plen = pv_len & 0x3fff
  alu[gprA_2, --, B, *l$index1[2]]           ; the packet in CTM
`;
const EXIT = (verdict: number): string => `  br[.${BPF_DONE}], defer[1]\n  immed[gprA_0, 0x${verdict.toString(16)}, <<16]\n`;
export const V_PASS = 0x11;
export const V_DROP = 0x22;
export const V_TX = 0x44;
export const V_ABORT = 0x82;

/** UDP/IPv4 with destination port 9 -> XDP_DROP, anything else -> XDP_PASS (the bench's parse-and-drop). */
export const DROP_UDP9 = `${INTRO}
  alu[--, gprB_22, -, 38]
  bcc[.pass]                                 ; shorter than eth+ip+udp ports: pass
  mem[read32, $xfer_0, gprA_2, 0, 8], ctx_swap[sig1]
  mem[read32, $xfer_8, gprA_2, 32, 2], ctx_swap[sig1]
  alu_shf[gprA_3, --, B, $xfer_3, >>16]      ; ethertype
  immed[gprB_4, 0x800]
  alu[--, gprA_3, -, gprB_4]
  bne[.pass]
  alu[gprA_3, 0xff, AND, $xfer_5]            ; IP protocol
  alu[--, gprA_3, -, 17]
  bne[.pass]
  alu_shf[gprA_3, --, B, $xfer_9, >>16]      ; UDP destination port
  alu[--, gprA_3, -, 9]
  bne[.pass]
${EXIT(V_DROP)}pass:
${EXIT(V_PASS)}`;

/** The key (a u32: the UDP destination port) on the stack, LM pointer 0 at it. */
const KEY_DPORT = `
  alu[--, gprB_22, -, 38]
  bcc[.pass]
  mem[read32, $xfer_8, gprA_2, 36, 1], ctx_swap[sig1]
  alu_shf[gprA_3, --, B, $xfer_8, >>16]
  alu[*l$index0[0], --, B, gprA_3]
`;

/**
 * A counter: look the destination port up in table `tid`; on a hit add 1 to the 32-bit counter at
 * value+0 and to the 64-bit counter at value+8 (atomic engine) and drop, on a miss pass.
 */
export const COUNTER = (tid: number): string => `${INTRO}${KEY_DPORT}
  br[.${FUNC_MAP_LOOKUP}], defer[2]
  immed[gprA_0, ${tid}]
  immed[gprB_0, .ret]
ret:
  alu[--, gprA_0, OR, gprB_1]
  beq[.pass]
  mem[add, $xfer_0, gprB_1, <<8, gprA_0, 1], ctx_swap[sig1], defer[1]
  immed[$xfer_0, 1]
  alu[gprA_20, gprA_0, +, 8]
  alu[gprB_20, gprB_1, +carry, 0]
  mem[add64, $xfer_0, gprB_20, <<8, gprA_20, 5], ctx_swap[sig1], defer[2]
  immed[$xfer_0, 1]
  immed[$xfer_1, 0]
${EXIT(V_DROP)}pass:
${EXIT(V_PASS)}`;

/**
 * XDP_TX with adjust_head(-20): the packet grows 20 bytes in front (pv_ctm_ptr, pv_len and plen as
 * the JIT's fast path updates them), which are filled with a copy of its first 20 bytes.
 */
export const TX_PREPEND20 = `${INTRO}
  mem[read32, $xfer_0, gprA_2, 0, 5], ctx_swap[sig1]
  alu[gprA_2, gprA_2, -, 20]
  alu[*l$index1[2], --, B, gprA_2]
  alu[gprA_5, --, B, *l$index1[0]]
  alu[*l$index1[0], gprA_5, +, 20]
  alu[gprB_22, gprB_22, +, 20]
  alu[$xfer_0, --, B, $xfer_0]
  alu[$xfer_1, --, B, $xfer_1]
  alu[$xfer_2, --, B, $xfer_2]
  alu[$xfer_3, --, B, $xfer_3]
  alu[$xfer_4, --, B, $xfer_4]
  mem[write32, $xfer_0, gprA_2, 0, 5], ctx_swap[sig1]
${EXIT(V_TX)}`;

/** XDP_PASS with adjust_tail(-4): the last 4 bytes are cut. */
export const PASS_TRIM4 = `${INTRO}
  alu[gprA_5, --, B, *l$index1[0]]
  alu[*l$index1[0], gprA_5, -, 4]
${EXIT(V_PASS)}`;

/**
 * map_update_elem(tid, &dport, &value, BPF_ANY) with value = { dport * 2, 0x12345678 }: pass when it
 * returned 0, drop otherwise (the program sees the firmware's -errno in R0).
 */
export const UPDATE = (tid: number, flags = 0): string => `${INTRO}${KEY_DPORT}
  alu_shf[gprA_4, --, B, gprA_3, <<1]
  alu[*l$index0[4], --, B, gprA_4]
  immed[gprA_4, 0x5678]
  immed_w1[gprA_4, 0x1234]
  alu[*l$index0[5], --, B, gprA_4]
  alu[gprA_6, gprA_22, +, 16]
  local_csr_wr[ActLMAddr2, gprA_6]           ; the value at stack + 16
  immed[gprA_8, ${flags}]
  nop
  nop
  br[.${FUNC_MAP_UPDATE}], defer[2]
  immed[gprA_0, ${tid}]
  immed[gprB_0, .ret]
ret:
  alu[--, gprA_0, OR, gprB_1]
  bne[.fail]
${EXIT(V_PASS)}fail:
${EXIT(V_DROP)}pass:
${EXIT(V_PASS)}`;

/** map_delete_elem(tid, &dport): pass when it returned 0, drop otherwise. */
export const DELETE = (tid: number): string => `${INTRO}${KEY_DPORT}
  br[.${FUNC_MAP_DELETE}], defer[2]
  immed[gprA_0, ${tid}]
  immed[gprB_0, .ret]
ret:
  alu[--, gprA_0, OR, gprB_1]
  bne[.fail]
${EXIT(V_PASS)}fail:
${EXIT(V_DROP)}pass:
${EXIT(V_PASS)}`;

/**
 * bpf_perf_event_output(ctx, map id `mapId`, BPF_F_CURRENT_CPU | 14 << 32, &stack[0], 8): the stack
 * holds { 0xdeadbeef, dport }; the event carries the first 14 packet bytes. Then XDP_DROP.
 */
export const EVENT = (mapId: number): string => `${INTRO}${KEY_DPORT}
  immed[gprA_4, 0xbeef]
  immed_w1[gprA_4, 0xdead]
  alu[*l$index0[0], --, B, gprA_4]
  alu[*l$index0[1], --, B, gprA_3]
  immed[gprA_4, ${mapId}]
  immed[gprA_5, 0]
  immed[gprA_6, 0xffff]
  immed_w1[gprA_6, 0xffff]
  immed[gprA_7, 14]
  alu[gprA_8, --, B, gprA_22]
  immed[gprA_9, 0]
  immed[gprA_10, 8]
  immed[gprA_11, 0]
  br[.${FUNC_PERF_EVENT_OUTPUT}], defer[2]
  immed[gprA_1, 6]
  immed[gprB_0, .ret]
ret:
${EXIT(V_DROP)}pass:
${EXIT(V_PASS)}`;

/** A verdict byte no outro builds. */
export const BAD_VERDICT = `${INTRO}${EXIT(0x33)}`;
/** XDP_ABORTED (R0 > XDP_TX in the JIT's outro). */
export const ABORT = `${INTRO}${EXIT(V_ABORT)}`;
/** A multiply step out of sequence: the core faults (EFAULT). */
export const FAULT = `${INTRO}
  mul_step[gprA_2, gprB_4], 32x32_step1
${EXIT(V_PASS)}`;
/** Never reaches BPF_DONE: stopped by the cycle budget (ELOOP). */
export const RUNAWAY = `${INTRO}
spin:
  br[.spin]
`;
/** Passes a packet whose vector points far outside its buffer. */
export const BAD_PV = `${INTRO}
  immed[gprA_5, 0x3, <<16]
  alu[*l$index1[2], --, B, gprA_5]
${EXIT(V_PASS)}`;

/** An assembled image, placed at BPF_START, as the driver's load path takes it. */
export function placed(text: string, opts: { stack_size?: number; max_pkt_offset?: number } = {}): NfpProgLoad {
  return nfpPlacedProg(buildImage(assemble(text, { base: BPF_START })), { start: BPF_START, ...opts });
}

/** An Ethernet/IPv4/UDP frame of `len` bytes to `dport` (payload bytes: their offset). */
export function udpFrame(dport: number, len = 64, sport = 1234): Uint8Array {
  const p = new Uint8Array(Math.max(len, 64));
  for (let i = 0; i < p.length; i++) p[i] = i & 0xff;
  p.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  p[14] = 0x45;
  p[15] = 0;
  p[16] = (len - 14) >> 8;
  p[17] = (len - 14) & 0xff;
  p[22] = 64;
  p[23] = 17;
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  p[34] = sport >> 8;
  p[35] = sport & 0xff;
  p[36] = dport >> 8;
  p[37] = dport & 0xff;
  return p.length === len ? p : p.slice(0, len);
}
