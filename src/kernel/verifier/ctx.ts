// Which context fields a program may touch, per program type: the is_valid_access callbacks of the
// program types' struct bpf_verifier_ops (net/core/filter.c: xdp_is_valid_access, sk_filter_is_valid_access,
// tc_cls_act_is_valid_access over bpf_skb_is_valid_access), and the program-type predicates the verifier
// asks (may_access_skb, may_access_direct_pkt_data). check_ctx_access in verifier.ts turns a refusal into
// "invalid bpf_context access off=%d size=%d".

import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { XDP_MD, XDP_MD_SIZE } from '../net/xdp.js';

/** struct __sk_buff (include/uapi/linux/bpf.h): the offsets the access rules name. */
export const SK_BUFF = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;
export const SK_BUFF_SIZE = 192;
const CB_END = SK_BUFF.cb + 5 * 4;

/** What a valid context load gives (struct bpf_insn_access_aux). */
export interface CtxAccessInfo {
  /** The loaded register's type: a scalar, or one of the packet pointers. */
  readonly regType: 'scalar' | 'pkt' | 'pkt_meta' | 'pkt_end';
  /** ctx_field_size: the whole field's size when a narrower load of it is allowed (0 otherwise). */
  readonly fieldSize: number;
}

const SCALAR: CtxAccessInfo = { regType: 'scalar', fieldSize: 0 };

/** bpf_ctx_range(TYPE, MEMBER) for a u32 member: the four offsets of the field. */
const inU32 = (off: number, field: number): boolean => off >= field && off < field + 4;
const inRange = (off: number, from: number, toEnd: number): boolean => off >= from && off < toEnd;

/** bpf_ctx_narrow_access_ok: a power-of-two access no wider than the field. */
const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

function xdpIsValidAccess(off: number, size: number, write: boolean, expectedAttachType: number, offloaded: boolean): CtxAccessInfo | undefined {
  if (expectedAttachType !== BPF_ATTACH_TYPE.XDP_DEVMAP && off === XDP_MD.egress_ifindex) return undefined;
  // __is_valid_xdp_access: whole, aligned u32 fields only.
  const whole = off >= 0 && off < XDP_MD_SIZE && off % size === 0 && size === 4;
  if (write) {
    // Only a program offloaded to a device may steer the packet to another queue.
    return offloaded && off === XDP_MD.rx_queue_index && whole ? SCALAR : undefined;
  }
  if (!whole) return undefined;
  if (off === XDP_MD.data) return { regType: 'pkt', fieldSize: 0 };
  if (off === XDP_MD.data_meta) return { regType: 'pkt_meta', fieldSize: 0 };
  if (off === XDP_MD.data_end) return { regType: 'pkt_end', fieldSize: 0 };
  return SCALAR;
}

/** bpf_skb_is_valid_access: the rules every __sk_buff program type shares. */
function skbIsValidAccess(off: number, size: number, write: boolean, regType: CtxAccessInfo['regType']): CtxAccessInfo | undefined {
  if (off < 0 || off >= SK_BUFF_SIZE) return undefined;
  if (off % size !== 0) return undefined;
  if (inRange(off, SK_BUFF.cb, CB_END)) {
    if (off + size > CB_END) return undefined;
    return { regType, fieldSize: 0 };
  }
  if (inRange(off, SK_BUFF.remote_ip6, SK_BUFF.remote_port) || inU32(off, SK_BUFF.remote_ip4) || inU32(off, SK_BUFF.local_ip4)
    || inU32(off, SK_BUFF.data) || inU32(off, SK_BUFF.data_meta) || inU32(off, SK_BUFF.data_end)) {
    return size === 4 ? { regType, fieldSize: 0 } : undefined;
  }
  if (inRange(off, SK_BUFF.flow_keys, SK_BUFF.flow_keys + 8)) return undefined;
  if (inRange(off, SK_BUFF.hwtstamp, SK_BUFF.hwtstamp + 8)) return !write && size === 8 ? { regType, fieldSize: 0 } : undefined;
  if (inRange(off, SK_BUFF.tstamp, SK_BUFF.tstamp + 8)) return size === 8 ? { regType, fieldSize: 0 } : undefined;
  // The socket pointer is a PTR_TO_SOCK_COMMON_OR_NULL, which this verifier does not model.
  if (inRange(off, SK_BUFF.sk, SK_BUFF.sk + 8)) return undefined;
  if (off === SK_BUFF.tstamp_type) return undefined;
  // The padding between tstamp_type and hwtstamp.
  if (inRange(off, SK_BUFF.tstamp_type + 1, SK_BUFF.hwtstamp)) return undefined;
  // Only narrow read access allowed for now.
  if (write) return size === 4 ? { regType, fieldSize: 0 } : undefined;
  return narrowOk(size, 4) ? { regType, fieldSize: 4 } : undefined;
}

function skFilterIsValidAccess(off: number, size: number, write: boolean): CtxAccessInfo | undefined {
  if (inU32(off, SK_BUFF.tc_classid) || inU32(off, SK_BUFF.data) || inU32(off, SK_BUFF.data_meta) || inU32(off, SK_BUFF.data_end)
    || inRange(off, SK_BUFF.family, SK_BUFF.local_port + 4) || inRange(off, SK_BUFF.tstamp, SK_BUFF.tstamp + 8)
    || inU32(off, SK_BUFF.wire_len) || inRange(off, SK_BUFF.hwtstamp, SK_BUFF.hwtstamp + 8)) {
    return undefined;
  }
  if (write && !inRange(off, SK_BUFF.cb, CB_END)) return undefined;
  return skbIsValidAccess(off, size, write, 'scalar');
}

function tcClsActIsValidAccess(off: number, size: number, write: boolean): CtxAccessInfo | undefined {
  if (write && !(inU32(off, SK_BUFF.mark) || inU32(off, SK_BUFF.tc_index) || inU32(off, SK_BUFF.priority)
    || inU32(off, SK_BUFF.tc_classid) || inRange(off, SK_BUFF.cb, CB_END) || inRange(off, SK_BUFF.tstamp, SK_BUFF.tstamp + 8)
    || inU32(off, SK_BUFF.queue_mapping))) {
    return undefined;
  }
  let regType: CtxAccessInfo['regType'] = 'scalar';
  if (inU32(off, SK_BUFF.data)) regType = 'pkt';
  else if (inU32(off, SK_BUFF.data_meta)) regType = 'pkt_meta';
  else if (inU32(off, SK_BUFF.data_end)) regType = 'pkt_end';
  else if (inRange(off, SK_BUFF.family, SK_BUFF.local_port + 4)) return undefined;
  return skbIsValidAccess(off, size, write, regType);
}

/**
 * env->ops->is_valid_access for the program types this kernel loads: the access info, or undefined
 * for "invalid bpf_context access". `off` is the offset into the context, `write` a store.
 */
export function isValidCtxAccess(progType: number, expectedAttachType: number, offloaded: boolean, off: number, size: number, write: boolean): CtxAccessInfo | undefined {
  switch (progType) {
    case BPF_PROG_TYPE.XDP: return xdpIsValidAccess(off, size, write, expectedAttachType, offloaded);
    case BPF_PROG_TYPE.SOCKET_FILTER: return skFilterIsValidAccess(off, size, write);
    case BPF_PROG_TYPE.SCHED_CLS:
    case BPF_PROG_TYPE.SCHED_ACT: return tcClsActIsValidAccess(off, size, write);
    default: return undefined;
  }
}

/** may_access_skb: the program types that may use the classic BPF_LD_ABS / BPF_LD_IND loads. */
export function mayAccessSkb(progType: number): boolean {
  return progType === BPF_PROG_TYPE.SOCKET_FILTER || progType === BPF_PROG_TYPE.SCHED_CLS || progType === BPF_PROG_TYPE.SCHED_ACT;
}

/** may_access_direct_pkt_data without a helper: program types that may read (and write) packet memory. */
export function mayAccessDirectPktData(progType: number): boolean {
  return progType === BPF_PROG_TYPE.XDP || progType === BPF_PROG_TYPE.SCHED_CLS || progType === BPF_PROG_TYPE.SCHED_ACT;
}
