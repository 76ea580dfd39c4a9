// tools/bpf/bpftool/feature.c: `bpftool feature probe dev NAME` — what a device can offload: the two
// program types an offload device may take (sched_cls, xdp), the two map types (hash, array), the
// helpers the device's verifier lets through for each, and the miscellaneous features — each probed by
// loading a tiny program or creating a map with prog_ifindex / map_ifindex, as bpftool does; in plain
// text, as C macros (`macros [prefix P]`) or JSON. Also `feature list_builtins GROUP` (libbpf v1.1's
// names). Probing the kernel itself (no `dev`) reads the machine's procfs and kernel config, which the
// emulated host does not model: that is refused.

import { BPF_ALU64, BPF_CALL, BPF_EXIT, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_K, BPF_MOV, BPF_SUB } from '../../bpf/opcodes.js';
import { isBpfError } from '../../bpf/errno.js';
import { BPF_FUNC, BPF_FUNC_NAMES } from '../../bpf/helpers.js';
import type { Insn } from '../../bpf/insn.js';
import { ATTACH_TYPE_NAMES, BPF_ATTACH_TYPE, BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { nfp_port_from_netdev } from '../../drivers/nfp/probe.js';
import type { ProgLoadAttr } from '../../kernel/syscall.js';
import { ifNameToIndex, isPrefix, type Args, type Bpftool } from './common.js';
import { mapTypeName } from './map.js';
import { progTypeName, type Cmd } from './prog.js';

/** ARRAY_SIZE(helper_name) of bpftool v7.1: the helpers of Linux 6.1's uapi, up to bpf_user_ringbuf_drain. */
const V7_1_HELPER_COUNT = 210;
/** libbpf v1.1's attach type names end at BPF_LSM_CGROUP; its link types are these. */
const LIBBPF_ATTACH_TYPE_MAX = BPF_ATTACH_TYPE.LSM_CGROUP;
const LIBBPF_LINK_TYPE_NAMES = ['unspec', 'raw_tracepoint', 'tracing', 'cgroup', 'iter', 'netns', 'xdp', 'perf_event', 'kprobe_multi', 'struct_ops'];
/** Helpers probed only in `full` mode: they write to the kernel log. */
const DMESG_HELPERS: ReadonlySet<number> = new Set(['trace_printk', 'trace_vprintk', 'probe_write_user'].map((n) => BPF_FUNC[n]!));
/** BPF_MAXINSNS: the classic limit, one past which the large-program probe goes. */
const BPF_MAXINSNS = 4096;

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const MOV64_IMM = (dst: number, imm: number): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
const EXIT = (): Insn => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

// ---------------------------------------------------------------------------------------------
// Printing (print_bool_feature, print_start_section, print_end_section)

interface Out {
  readonly b: Bpftool;
  /** define_prefix: C macros when set (never with JSON). */
  readonly prefix: string | undefined;
}

function printBoolFeature(o: Out, featName: string, plainName: string, defineName: string, res: boolean): void {
  if (o.b.jsonOutput) o.b.jw.boolField(featName, res);
  else if (o.prefix !== undefined) o.b.printf(`#define ${o.prefix}${res ? '' : 'NO_'}HAVE_${defineName}\n`);
  else o.b.printf(`${plainName} is ${res ? '' : 'NOT '}available\n`);
}

function startSection(o: Out, jsonTitle: string, plainTitle: string, defineComment: string): void {
  if (o.b.jsonOutput) {
    o.b.jw.name(jsonTitle);
    o.b.jw.startObject();
  } else {
    o.b.printf(`${o.prefix !== undefined ? defineComment : plainTitle}\n`);
  }
}

function endSection(o: Out): void {
  if (o.b.jsonOutput) o.b.jw.endObject();
  else o.b.printf('\n');
}

// ---------------------------------------------------------------------------------------------
// Probes: the device's answers to loads and map creations bound to it.

interface Probe {
  readonly b: Bpftool;
  readonly ifindex: number;
  /** `unprivileged`: the capabilities are dropped, so every bound load or creation is EPERM. */
  readonly unprivileged: boolean;
}

/** probe_prog_load_ifindex()'s load: the fd closed at once, and errno (undefined on success). */
async function progLoadIfindex(p: Probe, progType: number, insns: readonly Insn[], withLog: boolean): Promise<{ errno: string | undefined; log: string }> {
  if (p.unprivileged) return { errno: 'EPERM', log: '' };
  const attr: ProgLoadAttr = {
    prog_type: progType, insns, license: 'GPL', prog_ifindex: p.ifindex,
    ...(withLog ? { log_level: 1, log_size: 4096 } : {}),
  };
  try {
    p.b.sys.close(await p.b.sys.progLoadAsync(attr));
    return { errno: undefined, log: attr.log_buf ?? '' };
  } catch (e) {
    if (!isBpfError(e)) throw e;
    return { errno: e.errno, log: attr.log_buf ?? '' };
  }
}

/** probe_prog_type_ifindex(): r0 = 2 (nfp refuses exit(0) for TC), exit. */
async function probeProgTypeIfindex(p: Probe, progType: number): Promise<boolean> {
  const r = await progLoadIfindex(p, progType, [MOV64_IMM(0, 2), EXIT()], false);
  return r.errno === undefined;
}

async function probeMapTypeIfindex(p: Probe, mapType: number): Promise<boolean> {
  if (p.unprivileged) return false;
  try {
    p.b.sys.close(await p.b.sys.mapCreateAsync({ map_type: mapType, key_size: 4, value_size: 4, max_entries: 1, map_ifindex: p.ifindex }));
    return true;
  } catch (e) {
    if (!isBpfError(e)) throw e;
    return false;
  }
}

/** get_vendor_id(): the PCI vendor of the device, -1 when sysfs has none (silently). */
function getVendorId(p: Probe): number {
  const netdev = p.b.kernel.netdevs.dev_get_by_index(p.ifindex);
  const pci = netdev === undefined ? undefined : nfp_port_from_netdev(netdev)?.pf.device;
  return pci?.pciVendor ?? -1;
}

/** probe_helper_ifindex(): a call of the helper, exit; supported unless the log names it unknown. */
async function probeHelperIfindex(p: Probe, id: number, progType: number): Promise<boolean> {
  const { log } = await progLoadIfindex(p, progType, [insn(BPF_JMP | BPF_CALL, 0, 0, 0, id), EXIT()], true);
  // bpftool's buffer is 4096 bytes: the kernel fills at most 4095 characters and the NUL.
  const buf = log.slice(0, 4095);
  let res = !buf.includes('invalid func ') && !buf.includes('unknown func ');
  if (getVendorId(p) === 0x19ee) res = res && !buf.includes('not supported by FW') && !buf.includes('unsupported function id');
  return res;
}

// ---------------------------------------------------------------------------------------------
// Sections

async function sectionProgramTypes(o: Out, p: Probe, supported: Set<number>): Promise<void> {
  startSection(o, 'program_types', 'Scanning eBPF program types...', '/*** eBPF program types ***/');
  for (let t = 1; progTypeName(t) !== undefined; t++) {
    if (t !== BPF_PROG_TYPE.SCHED_CLS && t !== BPF_PROG_TYPE.XDP) continue;
    const name = progTypeName(t)!;
    const res = await probeProgTypeIfindex(p, t);
    if (res) supported.add(t);
    printBoolFeature(o, `have_${name}_prog_type`, `eBPF program_type ${name}`, `${name}_prog_type`.toUpperCase(), res);
  }
  endSection(o);
}

async function sectionMapTypes(o: Out, p: Probe): Promise<void> {
  startSection(o, 'map_types', 'Scanning eBPF map types...', '/*** eBPF map types ***/');
  for (let t = 1; mapTypeName(t) !== undefined; t++) {
    if (t !== BPF_MAP_TYPE.HASH && t !== BPF_MAP_TYPE.ARRAY) continue;
    const name = mapTypeName(t)!;
    printBoolFeature(o, `have_${name}_map_type`, `eBPF map_type ${name}`, `${name}_map_type`.toUpperCase(), await probeMapTypeIfindex(p, t));
  }
  endSection(o);
}

async function sectionHelpers(o: Out, p: Probe, supported: ReadonlySet<number>, full: boolean): Promise<void> {
  startSection(o, 'helpers', 'Scanning eBPF helper functions...', '/*** eBPF helper functions ***/');
  const b = o.b;
  if (o.prefix !== undefined && !b.jsonOutput) {
    const d = o.prefix;
    b.printf(`/*\n * Use ${d}HAVE_PROG_TYPE_HELPER(prog_type_name, helper_name)\n * to determine if <helper_name> is available for <prog_type_name>,\n`
      + ` * e.g.\n *\t#if ${d}HAVE_PROG_TYPE_HELPER(xdp, bpf_redirect)\n *\t\t// do stuff with this helper\n *\t#elif\n`
      + ` *\t\t// use a workaround\n *\t#endif\n */\n#define ${d}HAVE_PROG_TYPE_HELPER(prog_type, helper)\t\\\n\t${d}BPF__PROG_TYPE_ ## prog_type ## __HELPER_ ## helper\n`);
  }
  for (let t = 1; progTypeName(t) !== undefined; t++) {
    // Only the offload-able program types.
    if (t !== BPF_PROG_TYPE.SCHED_CLS && t !== BPF_PROG_TYPE.XDP) continue;
    const name = progTypeName(t)!;
    const supportedType = supported.has(t);
    if (b.jsonOutput) {
      b.jw.name(`${name}_available_helpers`);
      b.jw.startArray();
    } else if (o.prefix === undefined) {
      b.printf(`eBPF helpers supported for program type ${name}:`);
    }
    let any = false;
    for (let id = 1; id < V7_1_HELPER_COUNT; id++) {
      // Helpers that write to the kernel log are probed only in full mode.
      if (!full && DMESG_HELPERS.has(id)) continue;
      const helper = `bpf_${BPF_FUNC_NAMES[id]!}`;
      const res = supportedType && await probeHelperIfindex(p, id, t);
      any ||= res;
      if (b.jsonOutput) {
        if (res) b.jw.string(helper);
      } else if (o.prefix !== undefined) {
        b.printf(`#define ${o.prefix}BPF__PROG_TYPE_${name}__HELPER_${helper} ${res ? '1' : '0'}\n`);
      } else if (res) {
        b.printf(`\n\t- ${helper}`);
      }
    }
    if (b.jsonOutput) {
      b.jw.endArray();
    } else if (o.prefix === undefined) {
      b.printf('\n');
      if (!any) b.printf(supportedType ? '\tCould not determine which helpers are available\n' : '\tProgram type not supported\n');
    }
  }
  endSection(o);
}

/** probe_misc_feature(): a socket filter bound to the device (which no device takes). */
async function probeMiscFeature(o: Out, p: Probe, insns: readonly Insn[], featName: string, plainName: string, defineName: string): Promise<void> {
  const r = await progLoadIfindex(p, BPF_PROG_TYPE.SOCKET_FILTER, insns, false);
  printBoolFeature(o, featName, plainName, defineName, r.errno === undefined);
}

async function sectionMisc(o: Out, p: Probe): Promise<void> {
  startSection(o, 'misc', 'Scanning miscellaneous eBPF features...', '/*** eBPF misc features ***/');
  const large = Array.from({ length: BPF_MAXINSNS }, () => MOV64_IMM(0, 1));
  large.push(EXIT());
  await probeMiscFeature(o, p, large, 'have_large_insn_limit', 'Large program size limit', 'LARGE_INSN_LIMIT');
  await probeMiscFeature(o, p, [MOV64_IMM(0, 10), insn(BPF_ALU64 | BPF_SUB | BPF_K, 0, 0, 0, 1), insn(BPF_JMP | BPF_JNE | BPF_K, 0, 0, -2, 0), EXIT()],
    'have_bounded_loops', 'Bounded loop support', 'BOUNDED_LOOPS');
  await probeMiscFeature(o, p, [MOV64_IMM(0, 0), insn(BPF_JMP | BPF_JLT | BPF_K, 0, 0, 1, 0), MOV64_IMM(0, 1), EXIT()],
    'have_v2_isa_extension', 'ISA extension v2', 'V2_ISA_EXTENSION');
  await probeMiscFeature(o, p, [MOV64_IMM(0, 0), insn(BPF_JMP32 | BPF_JLT | BPF_K, 0, 0, 1, 0), MOV64_IMM(0, 1), EXIT()],
    'have_v3_isa_extension', 'ISA extension v3', 'V3_ISA_EXTENSION');
  endSection(o);
}

// ---------------------------------------------------------------------------------------------
// Commands

async function doProbe(b: Bpftool, a: Args): Promise<number> {
  let target: 'unspec' | 'kernel' | 'device' = 'unspec';
  let prefix: string | undefined;
  let ifindex = 0;
  let full = false;
  let unprivileged = false;
  while (a.count > 0) {
    if (isPrefix(a.cur, 'kernel')) {
      if (target !== 'unspec') {
        b.p_err('component to probe already specified');
        return -1;
      }
      target = 'kernel';
      a.next();
    } else if (isPrefix(a.cur, 'dev')) {
      a.next();
      if (target !== 'unspec' || ifindex !== 0) {
        b.p_err('component to probe already specified');
        return -1;
      }
      if (!a.req(1)) return -1;
      target = 'device';
      const ifname = a.get();
      ifindex = ifNameToIndex(b, ifname);
      if (ifindex === 0) {
        b.p_err(`unrecognized netdevice '${ifname}': No such device`);
        return -1;
      }
    } else if (isPrefix(a.cur, 'full')) {
      full = true;
      a.next();
    } else if (isPrefix(a.cur, 'macros') && prefix === undefined) {
      prefix = '';
      a.next();
    } else if (isPrefix(a.cur, 'prefix')) {
      if (prefix === undefined) {
        b.p_err("'prefix' argument can only be use after 'macros'");
        return -1;
      }
      if (prefix !== '') {
        b.p_err("'prefix' already defined");
        return -1;
      }
      a.next();
      if (!a.req(1)) return -1;
      prefix = a.get();
    } else if (isPrefix(a.cur, 'unprivileged')) {
      unprivileged = true;
      a.next();
    } else {
      b.p_err(`expected no more arguments, 'kernel', 'dev', 'macros' or 'prefix', got: '${a.cur!}'?`);
      return -1;
    }
  }
  if (target !== 'device') {
    // section_system_config() and the kernel's probes read the machine's procfs and kernel config.
    b.p_err("'feature probe' of the kernel is not supported by the emulated bpftool (it probes devices: 'feature probe dev NAME')");
    return -1;
  }
  const o: Out = { b, prefix: b.jsonOutput ? undefined : prefix };
  const p: Probe = { b, ifindex, unprivileged };
  if (b.jsonOutput) b.jw.startObject();
  // A device has no system configuration section; the bpf() syscall is there.
  startSection(o, 'syscall_config', 'Scanning system call availability...', '/*** System call availability ***/');
  printBoolFeature(o, 'have_bpf_syscall', 'bpf() syscall', 'BPF_SYSCALL', true);
  endSection(o);
  const supported = new Set<number>();
  await sectionProgramTypes(o, p, supported);
  await sectionMapTypes(o, p);
  await sectionHelpers(o, p, supported, full);
  await sectionMisc(o, p);
  if (b.jsonOutput) b.jw.endObject();
  return 0;
}

function doListBuiltins(b: Bpftool, a: Args): number {
  if (a.count < 1) b.usage();
  let names: string[];
  const upTo = (f: (i: number) => string | undefined): string[] => {
    const out: string[] = [];
    for (let i = 0; f(i) !== undefined; i++) out.push(f(i)!);
    return out;
  };
  if (isPrefix(a.cur, 'prog_types')) names = upTo(progTypeName);
  else if (isPrefix(a.cur, 'map_types')) names = upTo(mapTypeName);
  else if (isPrefix(a.cur, 'attach_types')) names = ATTACH_TYPE_NAMES.slice(0, LIBBPF_ATTACH_TYPE_MAX + 1).map((n) => n.toLowerCase());
  else if (isPrefix(a.cur, 'link_types')) names = LIBBPF_LINK_TYPE_NAMES;
  else if (isPrefix(a.cur, 'helpers')) names = BPF_FUNC_NAMES.slice(0, V7_1_HELPER_COUNT).map((n) => `bpf_${n}`);
  else {
    b.p_err(`expected 'prog_types', 'map_types', 'attach_types', 'link_types' or 'helpers', got: ${a.cur!}`);
    return -1;
  }
  if (b.jsonOutput) {
    b.jw.startArray();
    for (const n of names) b.jw.string(n);
    b.jw.endArray();
  } else {
    for (const n of names) b.printf(`${n}\n`);
  }
  return 0;
}

export const FEATURE_HELP = (bin: string, obj: string): string => `Usage: ${bin} ${obj} probe [COMPONENT] [full] [unprivileged] [macros [prefix PREFIX]]
       ${bin} ${obj} list_builtins GROUP
       ${bin} ${obj} help

       COMPONENT := { kernel | dev NAME }
       GROUP := { prog_types | map_types | attach_types | link_types | helpers }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} }
`;

export const FEATURE_CMDS: readonly Cmd[] = [
  ['probe', doProbe],
  ['list_builtins', doListBuiltins],
  ['help', () => 0], // the caller prints the help, which knows the object word typed
];
