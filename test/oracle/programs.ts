// The manifest of test/progs: every committed object, the programs and maps it holds, and what a
// test may rely on. The kernel-oracle test checks this list against the folder and against what the
// kernel reports after loading, so it cannot drift from the objects; later suites (interpreter,
// host JIT, verifier, NFP offload) iterate over it instead of keeping their own lists.

export interface TestObject {
  /** File name without .o, relative to test/progs. */
  name: string;
  /** Program (function) names, all SEC("xdp"), sorted. */
  progs: readonly string[];
  /** Map pin names as libbpf pins them ('.' -> '_'), sorted. */
  maps: readonly string[];
  /** Same verdict and output packet for the same input packet and map contents. */
  deterministic: boolean;
  /**
   * Could the NFP offload take it, judged against nfp-offload-facts.md: only HASH/ARRAY maps,
   * no global data, no tail calls or redirects, supported helpers only, within the code store.
   */
  nfpOffload: boolean;
  /** What it is there to exercise. */
  covers: string;
}

export const TEST_OBJECTS: readonly TestObject[] = [
  {
    name: 'xdp_pass',
    progs: ['xdp_pass'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: 'the empty XDP_PASS yardstick; smallest loadable program',
  },
  {
    name: 'xdp_drop_udp9',
    progs: ['xdp_drop_udp9'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: 'parse-and-drop yardstick: eth/IPv4/UDP parsing with packet bounds checks',
  },
  {
    name: 'xdp_counter',
    progs: ['xdp_count'],
    maps: ['cpu_packets', 'proto_stats', 'src_stats'],
    deterministic: true,
    nfpOffload: false, // PERCPU_ARRAY
    covers: 'ARRAY + atomic add, PERCPU_ARRAY, HASH with BPF_NOEXIST insert; VLAN and IPv6 parsing',
  },
  {
    name: 'xdp_alu32',
    progs: ['xdp_alu32'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: '-mcpu=v3: ALU32 (w registers), JMP32, 32-bit multiply, packet writes, checksum update',
  },
  {
    name: 'xdp_loop',
    progs: ['xdp_loop'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: 'short-loop yardstick: bounded 32-iteration loop with a back edge, 64 B checksum',
  },
  {
    name: 'xdp_csum_frame',
    progs: ['xdp_csum_frame'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: 'full-frame checksum yardstick: 750-iteration loop with a per-iteration bounds check',
  },
  {
    name: 'xdp_subprog',
    progs: ['xdp_subprog'],
    maps: ['xdp_subp_bss', 'xdp_subp_data', 'xdp_subp_rodata'],
    deterministic: true,
    nfpOffload: false, // global data are ARRAY maps with flags the NIC refuses
    covers: 'bpf-to-bpf calls (5 args, chain of depth 3), .data/.rodata/.bss global data',
  },
  {
    name: 'xdp_adjust',
    progs: ['xdp_ipip_encap', 'xdp_trim'],
    maps: [],
    deterministic: true,
    nfpOffload: true,
    covers: 'bpf_xdp_adjust_head (IPIP encap, XDP_TX), bpf_xdp_adjust_tail (trim), pointer re-checks',
  },
  {
    name: 'xdp_meta',
    progs: ['xdp_meta_mark'],
    maps: [],
    deterministic: true,
    nfpOffload: false, // adjust_meta is not an NFP helper
    covers: 'bpf_xdp_adjust_meta and data_meta bounds checks',
  },
  {
    name: 'xdp_tailcall',
    progs: ['xdp_stage_ipv4', 'xdp_stage_ipv6', 'xdp_stage_udp', 'xdp_tail_entry'],
    maps: ['jmp_table', 'stage_hits'],
    deterministic: true,
    nfpOffload: false, // tail calls are not offloaded upstream
    covers: 'PROG_ARRAY filled by libbpf from a static initialiser, bpf_tail_call chain of 2',
  },
  {
    name: 'xdp_tc_chain',
    progs: ['tc_entry', 'tc_ipv4', 'tc_ipv6', 'tc_loop', 'tc_tcp', 'tc_udp'],
    maps: ['chain', 'hits'],
    deterministic: true,
    // Runs on the NIC only with nfp-emu's paper-only tail calls (test/drivers/tailcall-e2e.test.ts).
    nfpOffload: false,
    covers: 'a bpf_tail_call chain of NFP-safe stages (TTL rewrite, XDP_TX, an empty slot, a self-call up to MAX_TAIL_CALL_CNT)',
  },
  {
    name: 'xdp_tc_split_nic',
    progs: ['nic_entry', 'nic_tcp'],
    maps: ['nic_hits', 'split'],
    deterministic: true,
    nfpOffload: false, // the NIC half of a partial-offload chain (paper-only): its slot 0 takes a host program
    covers: 'the NIC half of a chain split between NIC and host: tail calls to a NIC stage and to a host stage',
  },
  {
    name: 'xdp_tc_split_host',
    progs: ['host_udp'],
    maps: ['host_hits', 'last_len'],
    deterministic: true,
    nfpOffload: false, // stores into a map value
    covers: 'the host half of the partial-offload chain: a map value store the NFP refuses, XDP_TX',
  },
  {
    name: 'xdp_l4lb',
    progs: ['xdp_l4lb'],
    maps: ['servers'],
    deterministic: true,
    nfpOffload: true,
    covers: 'IPIP load balancer for the cycle model: ~210 insns/TCP packet, HASH lookup, adjust_head, 2 atomic adds, XDP_TX',
  },
  {
    name: 'xdp_big',
    progs: ['xdp_big'],
    maps: ['rule_hits'],
    deterministic: true,
    // Only NFP-supported instructions, so the hook passes it; the JIT needs ~9900 NFP instructions for
    // its ~3600 and stops at the production code store's BPF_MAX_LEN (7936) with ENOSPC.
    nfpOffload: false,
    covers: 'a program too big for the NIC code store that still passes the kernel verifier (and the nfp hook)',
  },
  {
    name: 'xdp_redirect',
    progs: ['xdp_redirect_ifindex', 'xdp_redirect_map'],
    maps: ['tx_port', 'xdp_redi_rodata'],
    deterministic: true,
    nfpOffload: false,
    covers: 'bpf_redirect, bpf_redirect_map with a DEVMAP and a fallback action',
  },
  {
    name: 'xdp_fib',
    progs: ['xdp_fib_fwd'],
    maps: [],
    deterministic: false, // the verdict follows the host's routes and neighbours
    nfpOffload: false,
    covers: 'bpf_fib_lookup, TTL decrement with incremental checksum, bpf_redirect',
  },
  {
    name: 'xdp_perf',
    progs: ['xdp_syn_events'],
    maps: ['events'],
    deterministic: true,
    nfpOffload: true,
    covers: 'bpf_perf_event_output with PERF_EVENT_ARRAY, BPF_F_CURRENT_CPU and packet sampling',
  },
  {
    name: 'xdp_misc',
    progs: ['xdp_misc'],
    maps: ['cpu_packets', 'last_seen_ns', 'sampled', 'xdp_misc_rodata'],
    deterministic: false, // the verdict is, the map contents are not
    nfpOffload: false,
    covers: 'bpf_ktime_get_ns, bpf_get_prandom_u32, bpf_get_smp_processor_id, bpf_csum_diff, bpf_printk',
  },
  {
    name: 'xdp_flowtable',
    progs: ['xdp_flowtable'],
    maps: ['flows', 'port_packets', 'src_bytes'],
    deterministic: true,
    nfpOffload: false,
    covers: 'LRU_HASH, PERCPU_HASH, LRU_PERCPU_HASH',
  },
];

/** Objects the verifier must reject, with a line its log must contain. */
export interface NegativeObject {
  name: string;
  errno: 'EACCES' | 'EINVAL';
  logIncludes: string;
}

export const NEGATIVE_OBJECTS: readonly NegativeObject[] = [
  { name: 'negative/xdp_no_bounds_check', errno: 'EACCES', logIncludes: 'invalid access to packet' },
  { name: 'negative/xdp_map_null', errno: 'EACCES', logIncludes: "invalid mem access 'map_value_or_null'" },
];
