// The kernel's enum bpf_prog_type, enum bpf_attach_type and enum bpf_map_type (include/uapi/linux/bpf.h),
// the program and map flags a loader sets, and libbpf's section_defs[] table (src/libbpf.c) that turns
// an ELF section name such as SEC("xdp.frags") into a program type, an expected attach type and load
// flags. Numbers are the uapi's: they go into bpf(2) attributes unchanged.

const enumOf = <const T extends readonly string[]>(names: T): { readonly [K in T[number]]: number } => {
  const o: Record<string, number> = {};
  names.forEach((n, i) => { o[n] = i; });
  return o as { readonly [K in T[number]]: number };
};

/** enum bpf_prog_type, names without the BPF_PROG_TYPE_ prefix, in uapi order. */
export const PROG_TYPE_NAMES = [
  'UNSPEC', 'SOCKET_FILTER', 'KPROBE', 'SCHED_CLS', 'SCHED_ACT', 'TRACEPOINT', 'XDP', 'PERF_EVENT', 'CGROUP_SKB',
  'CGROUP_SOCK', 'LWT_IN', 'LWT_OUT', 'LWT_XMIT', 'SOCK_OPS', 'SK_SKB', 'CGROUP_DEVICE', 'SK_MSG', 'RAW_TRACEPOINT',
  'CGROUP_SOCK_ADDR', 'LWT_SEG6LOCAL', 'LIRC_MODE2', 'SK_REUSEPORT', 'FLOW_DISSECTOR', 'CGROUP_SYSCTL',
  'RAW_TRACEPOINT_WRITABLE', 'CGROUP_SOCKOPT', 'TRACING', 'STRUCT_OPS', 'EXT', 'LSM', 'SK_LOOKUP', 'SYSCALL', 'NETFILTER',
] as const;
export type ProgTypeName = (typeof PROG_TYPE_NAMES)[number];
export const BPF_PROG_TYPE = enumOf(PROG_TYPE_NAMES);

/** enum bpf_attach_type, names without the BPF_ prefix, in uapi order. */
export const ATTACH_TYPE_NAMES = [
  'CGROUP_INET_INGRESS', 'CGROUP_INET_EGRESS', 'CGROUP_INET_SOCK_CREATE', 'CGROUP_SOCK_OPS', 'SK_SKB_STREAM_PARSER',
  'SK_SKB_STREAM_VERDICT', 'CGROUP_DEVICE', 'SK_MSG_VERDICT', 'CGROUP_INET4_BIND', 'CGROUP_INET6_BIND',
  'CGROUP_INET4_CONNECT', 'CGROUP_INET6_CONNECT', 'CGROUP_INET4_POST_BIND', 'CGROUP_INET6_POST_BIND',
  'CGROUP_UDP4_SENDMSG', 'CGROUP_UDP6_SENDMSG', 'LIRC_MODE2', 'FLOW_DISSECTOR', 'CGROUP_SYSCTL', 'CGROUP_UDP4_RECVMSG',
  'CGROUP_UDP6_RECVMSG', 'CGROUP_GETSOCKOPT', 'CGROUP_SETSOCKOPT', 'TRACE_RAW_TP', 'TRACE_FENTRY', 'TRACE_FEXIT',
  'MODIFY_RETURN', 'LSM_MAC', 'TRACE_ITER', 'CGROUP_INET4_GETPEERNAME', 'CGROUP_INET6_GETPEERNAME',
  'CGROUP_INET4_GETSOCKNAME', 'CGROUP_INET6_GETSOCKNAME', 'XDP_DEVMAP', 'CGROUP_INET_SOCK_RELEASE', 'XDP_CPUMAP',
  'SK_LOOKUP', 'XDP', 'SK_SKB_VERDICT', 'SK_REUSEPORT_SELECT', 'SK_REUSEPORT_SELECT_OR_MIGRATE', 'PERF_EVENT',
  'TRACE_KPROBE_MULTI', 'LSM_CGROUP', 'STRUCT_OPS', 'NETFILTER', 'TCX_INGRESS', 'TCX_EGRESS', 'TRACE_UPROBE_MULTI',
  'CGROUP_UNIX_CONNECT', 'CGROUP_UNIX_SENDMSG', 'CGROUP_UNIX_RECVMSG', 'CGROUP_UNIX_GETPEERNAME',
  'CGROUP_UNIX_GETSOCKNAME', 'NETKIT_PRIMARY', 'NETKIT_PEER',
] as const;
export type AttachTypeName = (typeof ATTACH_TYPE_NAMES)[number];
export const BPF_ATTACH_TYPE = enumOf(ATTACH_TYPE_NAMES);

/** enum bpf_map_type, names without the BPF_MAP_TYPE_ prefix, in uapi order. */
export const MAP_TYPE_NAMES = [
  'UNSPEC', 'HASH', 'ARRAY', 'PROG_ARRAY', 'PERF_EVENT_ARRAY', 'PERCPU_HASH', 'PERCPU_ARRAY', 'STACK_TRACE',
  'CGROUP_ARRAY', 'LRU_HASH', 'LRU_PERCPU_HASH', 'LPM_TRIE', 'ARRAY_OF_MAPS', 'HASH_OF_MAPS', 'DEVMAP', 'SOCKMAP',
  'CPUMAP', 'XSKMAP', 'SOCKHASH', 'CGROUP_STORAGE', 'REUSEPORT_SOCKARRAY', 'PERCPU_CGROUP_STORAGE', 'QUEUE', 'STACK',
  'SK_STORAGE', 'DEVMAP_HASH', 'STRUCT_OPS', 'RINGBUF', 'INODE_STORAGE', 'TASK_STORAGE', 'BLOOM_FILTER',
  'USER_RINGBUF', 'CGRP_STORAGE', 'ARENA',
] as const;
export type MapTypeName = (typeof MAP_TYPE_NAMES)[number];
export const BPF_MAP_TYPE = enumOf(MAP_TYPE_NAMES);

/** bpftool's lower-case names (`"type": "percpu_array"`), or `type N` for unknown numbers. */
export const mapTypeStr = (t: number): string => MAP_TYPE_NAMES[t]?.toLowerCase() ?? `type ${t}`;
export const progTypeStr = (t: number): string => PROG_TYPE_NAMES[t]?.toLowerCase() ?? `type ${t}`;

// ---- map_flags (BPF_MAP_CREATE) ----
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_MMAPABLE = 1 << 10;

// ---- prog_flags (BPF_PROG_LOAD) ----
export const BPF_F_STRICT_ALIGNMENT = 1 << 0;
export const BPF_F_ANY_ALIGNMENT = 1 << 1;
export const BPF_F_TEST_RND_HI32 = 1 << 2;
export const BPF_F_TEST_STATE_FREQ = 1 << 3;
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;
export const BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6;

// ---- libbpf's sec_def_flags (the cookie of each section_defs[] entry) ----
export const SEC_NONE = 0;
/** expected_attach_type may be dropped on kernels that lack it. */
export const SEC_EXP_ATTACH_OPT = 1;
export const SEC_ATTACHABLE = 2;
export const SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT;
/** The attach target is a BTF id named after the '/' (fentry/func). */
export const SEC_ATTACH_BTF = 4;
export const SEC_SLEEPABLE = 8;
export const SEC_XDP_FRAGS = 16;
export const SEC_USDT = 32;

export interface SecDef {
  /** `"xdp"` matches exactly; `"kprobe+"` matches `kprobe` or `kprobe/...`; `"x/"` matches any `x/...`. */
  readonly sec: string;
  readonly progType: ProgTypeName;
  readonly attachType: AttachTypeName | null;
  readonly flags: number;
}

const d = (sec: string, progType: ProgTypeName, attachType: AttachTypeName | null, flags: number): SecDef => ({ sec, progType, attachType, flags });

/** libbpf's section_defs[], in its order (the first match wins, so order matters). */
export const SECTION_DEFS: readonly SecDef[] = [
  d('socket', 'SOCKET_FILTER', null, SEC_NONE),
  d('sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE', SEC_ATTACHABLE),
  d('sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT', SEC_ATTACHABLE),
  d('kprobe+', 'KPROBE', null, SEC_NONE),
  d('uprobe+', 'KPROBE', null, SEC_NONE),
  d('uprobe.s+', 'KPROBE', null, SEC_SLEEPABLE),
  d('kretprobe+', 'KPROBE', null, SEC_NONE),
  d('uretprobe+', 'KPROBE', null, SEC_NONE),
  d('uretprobe.s+', 'KPROBE', null, SEC_SLEEPABLE),
  d('kprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', SEC_NONE),
  d('kretprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', SEC_NONE),
  d('uprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', SEC_NONE),
  d('uretprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', SEC_NONE),
  d('uprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', SEC_SLEEPABLE),
  d('uretprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', SEC_SLEEPABLE),
  d('ksyscall+', 'KPROBE', null, SEC_NONE),
  d('kretsyscall+', 'KPROBE', null, SEC_NONE),
  d('usdt+', 'KPROBE', null, SEC_USDT),
  d('usdt.s+', 'KPROBE', null, SEC_USDT | SEC_SLEEPABLE),
  d('tc/ingress', 'SCHED_CLS', 'TCX_INGRESS', SEC_NONE),
  d('tc/egress', 'SCHED_CLS', 'TCX_EGRESS', SEC_NONE),
  d('tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS', SEC_NONE),
  d('tcx/egress', 'SCHED_CLS', 'TCX_EGRESS', SEC_NONE),
  d('tc', 'SCHED_CLS', null, SEC_NONE),
  d('classifier', 'SCHED_CLS', null, SEC_NONE),
  d('action', 'SCHED_ACT', null, SEC_NONE),
  d('netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY', SEC_NONE),
  d('netkit/peer', 'SCHED_CLS', 'NETKIT_PEER', SEC_NONE),
  d('tracepoint+', 'TRACEPOINT', null, SEC_NONE),
  d('tp+', 'TRACEPOINT', null, SEC_NONE),
  d('raw_tracepoint+', 'RAW_TRACEPOINT', null, SEC_NONE),
  d('raw_tp+', 'RAW_TRACEPOINT', null, SEC_NONE),
  d('raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE', null, SEC_NONE),
  d('raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE', null, SEC_NONE),
  d('tp_btf+', 'TRACING', 'TRACE_RAW_TP', SEC_ATTACH_BTF),
  d('fentry+', 'TRACING', 'TRACE_FENTRY', SEC_ATTACH_BTF),
  d('fmod_ret+', 'TRACING', 'MODIFY_RETURN', SEC_ATTACH_BTF),
  d('fexit+', 'TRACING', 'TRACE_FEXIT', SEC_ATTACH_BTF),
  d('fentry.s+', 'TRACING', 'TRACE_FENTRY', SEC_ATTACH_BTF | SEC_SLEEPABLE),
  d('fmod_ret.s+', 'TRACING', 'MODIFY_RETURN', SEC_ATTACH_BTF | SEC_SLEEPABLE),
  d('fexit.s+', 'TRACING', 'TRACE_FEXIT', SEC_ATTACH_BTF | SEC_SLEEPABLE),
  d('freplace+', 'EXT', null, SEC_ATTACH_BTF),
  d('lsm+', 'LSM', 'LSM_MAC', SEC_ATTACH_BTF),
  d('lsm.s+', 'LSM', 'LSM_MAC', SEC_ATTACH_BTF | SEC_SLEEPABLE),
  d('lsm_cgroup+', 'LSM', 'LSM_CGROUP', SEC_ATTACH_BTF),
  d('iter+', 'TRACING', 'TRACE_ITER', SEC_ATTACH_BTF),
  d('iter.s+', 'TRACING', 'TRACE_ITER', SEC_ATTACH_BTF | SEC_SLEEPABLE),
  d('syscall', 'SYSCALL', null, SEC_SLEEPABLE),
  d('xdp.frags/devmap', 'XDP', 'XDP_DEVMAP', SEC_XDP_FRAGS),
  d('xdp/devmap', 'XDP', 'XDP_DEVMAP', SEC_ATTACHABLE),
  d('xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP', SEC_XDP_FRAGS),
  d('xdp/cpumap', 'XDP', 'XDP_CPUMAP', SEC_ATTACHABLE),
  d('xdp.frags', 'XDP', 'XDP', SEC_XDP_FRAGS),
  d('xdp', 'XDP', 'XDP', SEC_ATTACHABLE_OPT),
  d('perf_event', 'PERF_EVENT', null, SEC_NONE),
  d('lwt_in', 'LWT_IN', null, SEC_NONE),
  d('lwt_out', 'LWT_OUT', null, SEC_NONE),
  d('lwt_xmit', 'LWT_XMIT', null, SEC_NONE),
  d('lwt_seg6local', 'LWT_SEG6LOCAL', null, SEC_NONE),
  d('sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS', SEC_ATTACHABLE_OPT),
  d('sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER', SEC_ATTACHABLE_OPT),
  d('sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT', SEC_ATTACHABLE_OPT),
  d('sk_skb', 'SK_SKB', null, SEC_NONE),
  d('sk_msg', 'SK_MSG', 'SK_MSG_VERDICT', SEC_ATTACHABLE_OPT),
  d('lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2', SEC_ATTACHABLE_OPT),
  d('flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR', SEC_ATTACHABLE_OPT),
  d('cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS', SEC_ATTACHABLE_OPT),
  d('cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS', SEC_ATTACHABLE_OPT),
  d('cgroup/skb', 'CGROUP_SKB', null, SEC_NONE),
  d('cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', SEC_ATTACHABLE),
  d('cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE', SEC_ATTACHABLE),
  d('cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', SEC_ATTACHABLE_OPT),
  d('cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND', SEC_ATTACHABLE),
  d('cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND', SEC_ATTACHABLE),
  d('cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND', SEC_ATTACHABLE),
  d('cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND', SEC_ATTACHABLE),
  d('cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT', SEC_ATTACHABLE),
  d('cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT', SEC_ATTACHABLE),
  d('cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT', SEC_ATTACHABLE),
  d('cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG', SEC_ATTACHABLE),
  d('cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG', SEC_ATTACHABLE),
  d('cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG', SEC_ATTACHABLE),
  d('cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG', SEC_ATTACHABLE),
  d('cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG', SEC_ATTACHABLE),
  d('cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG', SEC_ATTACHABLE),
  d('cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME', SEC_ATTACHABLE),
  d('cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME', SEC_ATTACHABLE),
  d('cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME', SEC_ATTACHABLE),
  d('cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME', SEC_ATTACHABLE),
  d('cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME', SEC_ATTACHABLE),
  d('cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME', SEC_ATTACHABLE),
  d('cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL', SEC_ATTACHABLE),
  d('cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT', SEC_ATTACHABLE),
  d('cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT', SEC_ATTACHABLE),
  d('cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE', SEC_ATTACHABLE_OPT),
  d('struct_ops+', 'STRUCT_OPS', null, SEC_NONE),
  d('struct_ops.s+', 'STRUCT_OPS', null, SEC_SLEEPABLE),
  d('sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP', SEC_ATTACHABLE),
  d('netfilter', 'NETFILTER', 'NETFILTER', SEC_NONE),
];

/** libbpf's sec_def_matches(). */
export function secDefMatches(def: SecDef, secName: string): boolean {
  const s = def.sec;
  if (s.endsWith('/')) return secName.startsWith(s);
  if (s.endsWith('+')) {
    const pfx = s.slice(0, -1);
    if (!secName.startsWith(pfx)) return false;
    const next = secName[pfx.length];
    return next === undefined || next === '/';
  }
  return secName === s;
}

/** libbpf's find_sec_def(): the first entry of SECTION_DEFS matching the section name, or undefined. */
export function findSecDef(secName: string): SecDef | undefined {
  return SECTION_DEFS.find((def) => secDefMatches(def, secName));
}

/** The BPF_PROG_LOAD prog_flags libbpf_prepare_prog_load() derives from a section definition. */
export function secDefProgFlags(def: SecDef): number {
  let f = 0;
  if (def.flags & SEC_SLEEPABLE) f |= BPF_F_SLEEPABLE;
  if (def.progType === 'XDP' && def.flags & SEC_XDP_FRAGS) f |= BPF_F_XDP_HAS_FRAGS;
  return f;
}
