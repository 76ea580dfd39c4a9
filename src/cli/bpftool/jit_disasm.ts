// tools/bpf/bpftool/jit_disasm.c (the libbfd build) and common.c's ifindex_to_bfd_params(): how
// `prog dump jited` prints the image of a program offloaded to a device. The kernel hands bpftool the
// device's own image (bpf_prog_offload_info_fill); bpftool asks sysfs for the device's PCI vendor and,
// for Netronome (0x19ee), has libbfd disassemble it as "NFP-6xxx" with the option "ctx4" (the BPF
// firmware runs four contexts per ME), through binutils' opcodes/nfp-dis.c — which src/nic/asm.ts
// reproduces. Any other vendor has no disassembler.
//
// The machine this emulation follows has a bpftool built without libbfd ("No libbfd support" for every
// `dump jited`, which prog.ts keeps for host programs: their JIT image here is JavaScript, not machine
// code). A device program's dump is what the libbfd build prints, the only build that can show it.

import { formatJitedDump } from '../../nic/asm.js';
import { strerror } from '../../bpf/errno.js';
import { ifindexToNameNs, inOwnNetns, readSysfsNetdevHexInt, type Bpftool } from './common.js';

/** PCI_VENDOR_ID_NETRONOME, and the NFP device ids bpftool knows to be NFP-6xxx. */
const PCI_VENDOR_ID_NETRONOME = 0x19ee;
const NFP_6XXX_DEVICE_IDS: readonly number[] = [0x4000, 0x6000, 0x6003];

export interface BfdParams {
  /** The libbfd architecture name (bfd_scan_arch). */
  readonly arch: string;
  /** The disassembler options. */
  readonly options: string;
}

/** ifindex_to_bfd_params(): the device's disassembler, or undefined after bpftool's error. */
export function ifindexToBfdParams(b: Bpftool, ifindex: number, nsDev: bigint, nsIno: bigint): BfdParams | undefined {
  const devname = ifindexToNameNs(b, ifindex, nsDev, nsIno);
  if (devname === undefined) {
    // if_indextoname()'s errno (ENXIO); for a device in another namespace bpftool never called it and
    // errno is as it was, 0 on this path.
    b.p_err(`Can't get net device name for ifindex ${ifindex | 0}: ${inOwnNetns(nsDev, nsIno) ? strerror('ENXIO') : 'Success'}`);
    return undefined;
  }
  const vendor = readSysfsNetdevHexInt(b, devname, 'vendor');
  if (vendor < 0) {
    b.p_err(`Can't get device vendor id for ${devname}`);
    return undefined;
  }
  if (vendor === PCI_VENDOR_ID_NETRONOME) {
    const device = readSysfsNetdevHexInt(b, devname, 'device');
    if (!NFP_6XXX_DEVICE_IDS.includes(device)) b.p_info('Unknown NFP device ID, assuming it is NFP-6xxx arch');
    return { arch: 'NFP-6xxx', options: 'ctx4' };
  }
  b.p_err(`Can't get bfd arch name for device vendor id 0x${vendor.toString(16).padStart(4, '0')}`);
  return undefined;
}

/**
 * disasm_print_insn() for an NFP image: plain text is "%4x:\t" and nfp-dis.c's line per 8-byte word
 * (with `opcodes`, "\n\t" and the word's bytes); JSON is an array of {"pc", "operation", "operands"[,
 * "opcodes"]}, where bpftool's fprintf_json() takes the disassembler's first print as the operation —
 * for nfp-dis.c that is the ".N" program-counter prefix — and each later one as an operand.
 *
 * nfp-dis.c prints an instruction's text in several pieces; the emulated disassembler gives it as one
 * string, so the JSON has it as one operand (and "\t # ERROR" of an invalid word as a second).
 */
export function disasmPrintInsn(b: Bpftool, image: Uint8Array, opcodes: boolean, params: BfdParams): void {
  if (image.length === 0) return;
  if (params.arch !== 'NFP-6xxx' || params.options !== 'ctx4') throw new Error(`BUG: no disassembler for ${params.arch} (${params.options})`);
  if (!b.jsonOutput) {
    b.printf(formatJitedDump(image, { opcodes }));
    return;
  }
  const jw = b.jw;
  const lines = formatJitedDump(image).split('\n');
  jw.startArray();
  for (let i = 0; i * 8 < image.length; i++) {
    const line = lines[i] ?? '';
    // "%4x:\t" then nfp-dis.c's "%*c%d  " PC prefix, then the instruction.
    const text = line.slice(line.indexOf('\t') + 1);
    const m = /^( *\.\d+) {2}(.*)$/s.exec(text);
    // fprintf_json() strips the trailing blanks of the first piece only: " .0" keeps its padding.
    const operation = m?.[1] ?? '';
    const rest = m?.[2] ?? text;
    jw.startObject();
    jw.name('pc');
    jw.printf(`"0x${(i * 8).toString(16)}"`);
    jw.stringField('operation', operation);
    jw.name('operands');
    jw.startArray();
    const err = rest.indexOf('\t # ERROR');
    if (err >= 0) {
      if (err > 0) jw.string(rest.slice(0, err));
      jw.string('\t # ERROR');
    } else if (rest !== '') {
      jw.string(rest);
    } else {
      jw.null();
    }
    jw.endArray();
    if (opcodes) {
      jw.name('opcodes');
      jw.startArray();
      for (let k = 0; k < 8; k++) jw.printf(`"0x${(image[i * 8 + k] ?? 0).toString(16).padStart(2, '0')}"`);
      jw.endArray();
    }
    jw.endObject();
  }
  jw.endArray();
}
