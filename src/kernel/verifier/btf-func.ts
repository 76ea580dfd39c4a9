// What a subprogram's BTF says about its arguments (kernel/bpf/btf.c: btf_prepare_func_args,
// btf_is_prog_ctx_type). A global (non-static) function is verified once on its own, from this
// prototype, instead of at each call: each argument becomes the program's context, a scalar, or memory
// of the pointed type's size that may be NULL (unless tagged arg:nonnull), and every call is checked
// against the same expectations (verifier.ts, btf_check_func_arg_match).

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import {
  BTF_FUNC_GLOBAL, BTF_KIND_DECL_TAG, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_INT,
  BTF_KIND_NAMES, BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_UNION, MAX_RESOLVE_DEPTH, isModifier,
  type Btf, type BpfFuncInfo, type BtfType,
} from '../../bpf/btf.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';

/** MAX_BPF_FUNC_REG_ARGS: arguments travel in r1-r5. */
export const MAX_BPF_FUNC_REG_ARGS = 5;

/** enum bpf_arg_type as a subprogram argument can be (struct bpf_subprog_arg_info). */
export type SubprogArg =
  | { readonly type: 'ARG_PTR_TO_CTX' }
  | { readonly type: 'ARG_ANYTHING' }
  | { readonly type: 'ARG_PTR_TO_MEM'; readonly maybeNull: boolean; readonly memSize: number };

/** A subprogram as func_info and its BTF describe it (bpf_func_info_aux plus the cached args). */
export interface SubprogBtf {
  /** BTF_FUNC_GLOBAL functions are verified on their own; static ones at each call. */
  readonly linkage: number;
  /** The FUNC's name (subprog_name), '' without BTF. */
  readonly name: string;
  readonly typeId: number;
}

/**
 * The program context's struct name per program type (the prog_ctx_type of include/linux/bpf_types.h),
 * and the kernel struct it projects (btf_is_projection_of). Types without one match only arg:ctx.
 */
const CTX_TYPE_NAME: ReadonlyMap<number, string> = new Map([
  [BPF_PROG_TYPE.SOCKET_FILTER, '__sk_buff'], [BPF_PROG_TYPE.SCHED_CLS, '__sk_buff'], [BPF_PROG_TYPE.SCHED_ACT, '__sk_buff'],
  [BPF_PROG_TYPE.CGROUP_SKB, '__sk_buff'], [BPF_PROG_TYPE.LWT_IN, '__sk_buff'], [BPF_PROG_TYPE.LWT_OUT, '__sk_buff'],
  [BPF_PROG_TYPE.LWT_XMIT, '__sk_buff'], [BPF_PROG_TYPE.LWT_SEG6LOCAL, '__sk_buff'], [BPF_PROG_TYPE.SK_SKB, '__sk_buff'],
  [BPF_PROG_TYPE.FLOW_DISSECTOR, '__sk_buff'], [BPF_PROG_TYPE.XDP, 'xdp_md'], [BPF_PROG_TYPE.CGROUP_SOCK, 'bpf_sock'],
  [BPF_PROG_TYPE.CGROUP_SOCK_ADDR, 'bpf_sock_addr'], [BPF_PROG_TYPE.SOCK_OPS, 'bpf_sock_ops'], [BPF_PROG_TYPE.SK_MSG, 'sk_msg_md'],
  [BPF_PROG_TYPE.PERF_EVENT, 'bpf_perf_event_data'], [BPF_PROG_TYPE.RAW_TRACEPOINT, 'bpf_raw_tracepoint_args'],
  [BPF_PROG_TYPE.CGROUP_DEVICE, 'bpf_cgroup_dev_ctx'], [BPF_PROG_TYPE.SK_REUSEPORT, 'sk_reuseport_md'],
  [BPF_PROG_TYPE.CGROUP_SYSCTL, 'bpf_sysctl'], [BPF_PROG_TYPE.CGROUP_SOCKOPT, 'bpf_sockopt'], [BPF_PROG_TYPE.SK_LOOKUP, 'bpf_sk_lookup'],
]);
const PROJECTION: Readonly<Record<string, string>> = { __sk_buff: 'sk_buff', xdp_md: 'xdp_buff' };

/** btf_type_is_modifier: the kernel's list includes typedefs (their size is the target's). */
function skipModifiers(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let d = 0; d < MAX_RESOLVE_DEPTH && (isModifier(t.kind) || t.kind === BTF_KIND_TYPEDEF); d++) t = btf.type((t as { type: number }).type);
  return t;
}

/** btf_type_str: the kind's name, "UNKNOWN" for void. */
const btfTypeStr = (t: BtfType): string => (t.id === 0 ? 'UNKNOWN' : BTF_KIND_NAMES[t.kind] ?? 'UNKNOWN');

const isIntOrEnum = (t: BtfType): boolean => t.kind === BTF_KIND_INT || t.kind === BTF_KIND_ENUM || t.kind === BTF_KIND_ENUM64;

/** btf_is_prog_ctx_type: a pointer to the program type's context struct (or the kernel struct it projects). */
function isProgCtxType(btf: Btf, ptr: BtfType, progType: number): boolean {
  const t = skipModifiers(btf, (ptr as { type: number }).type);
  if (t.kind !== BTF_KIND_STRUCT && t.kind !== BTF_KIND_UNION) return false;
  const ctxName = CTX_TYPE_NAME.get(progType);
  if (ctxName === undefined) return false;
  return t.name === ctxName || PROJECTION[ctxName] === t.name;
}

/** The subprograms' linkage and names from func_info (one record per subprogram, in order). */
export function subprogBtf(btf: Btf | undefined, funcInfo: readonly BpfFuncInfo[] | undefined, count: number): SubprogBtf[] {
  const out: SubprogBtf[] = [];
  for (let i = 0; i < count; i++) {
    const fi = funcInfo?.[i];
    const t = fi !== undefined && btf !== undefined ? btf.typeById(fi.typeId) : undefined;
    if (t === undefined || t.kind !== BTF_KIND_FUNC) out.push({ linkage: 0, name: '', typeId: fi?.typeId ?? 0 });
    else out.push({ linkage: t.linkage, name: t.name, typeId: t.id });
  }
  return out;
}

/** The outcome of btf_prepare_func_args: the arguments, or the errno (and the log line already written). */
export type PreparedArgs = { readonly args: readonly SubprogArg[] } | { readonly errno: ErrnoName };

/**
 * btf_prepare_func_args: the verifier's expectations of each argument from the function's BTF. A
 * static function's failures are silent (the caller ignores them); a global function's are logged.
 */
export function prepareFuncArgs(btf: Btf, sub: SubprogBtf, subprog: number, progType: number, log: (line: string) => void): PreparedArgs {
  const isGlobal = sub.linkage === BTF_FUNC_GLOBAL;
  if (sub.typeId === 0) {
    if (!isGlobal) return { errno: 'EINVAL' };
    log('Global functions need valid BTF');
    return { errno: 'EFAULT' };
  }
  const fn = btf.typeById(sub.typeId);
  if (fn === undefined || fn.kind !== BTF_KIND_FUNC) {
    log(`BTF of func#${subprog} doesn't point to KIND_FUNC`);
    return { errno: 'EFAULT' };
  }
  const proto = btf.typeById(fn.type);
  if (proto === undefined || proto.kind !== BTF_KIND_FUNC_PROTO) {
    log(`Invalid type of function ${fn.name}()`);
    return { errno: 'EFAULT' };
  }
  const nargs = proto.params.length;
  if (nargs > MAX_BPF_FUNC_REG_ARGS) {
    if (isGlobal) log(`Global function ${fn.name}() with ${nargs} > ${MAX_BPF_FUNC_REG_ARGS} args. Buggy compiler.`);
    return { errno: 'EINVAL' };
  }
  // 6.18 takes only a scalar result (void came in 6.19).
  const ret = skipModifiers(btf, proto.type);
  if (!isIntOrEnum(ret)) {
    if (isGlobal) log(`Global function ${fn.name}() doesn't return scalar. Only those are supported.`);
    return { errno: 'EINVAL' };
  }
  const args: SubprogArg[] = [];
  for (let i = 0; i < nargs; i++) {
    // 'arg:<tag>' decl tags on the parameter come before what its type says.
    let tagCtx = false;
    let tagNonnull = false;
    for (const tag of btf.types) {
      if (tag.kind !== BTF_KIND_DECL_TAG || tag.type !== fn.id || tag.componentIdx !== i || !tag.name.startsWith('arg:')) continue;
      if (!isGlobal) {
        log(`arg#${i} type tag is not supported in static functions`);
        return { errno: 'EOPNOTSUPP' };
      }
      const name = tag.name.slice(4);
      if (name === 'ctx') tagCtx = true;
      else if (name === 'nonnull') tagNonnull = true;
      else {
        // trusted, untrusted, nullable and arena name kernel types (vmlinux BTF) the emulator does not have.
        log(`arg#${i} has unsupported set of tags`);
        return { errno: 'EOPNOTSUPP' };
      }
    }
    const t = skipModifiers(btf, proto.params[i]!.type);
    if (t.kind === BTF_KIND_PTR) {
      if (tagCtx || isProgCtxType(btf, t, progType)) {
        if (tagNonnull) {
          log(`arg#${i} has invalid combination of tags`);
          return { errno: 'EINVAL' };
        }
        args.push({ type: 'ARG_PTR_TO_CTX' });
        continue;
      }
      if (isGlobal) {
        // Generic user memory: as many bytes as the pointed type has, NULL allowed unless arg:nonnull.
        const ref = skipModifiers(btf, t.type);
        let memSize: number;
        try {
          if (ref.id === 0) throw new BpfError('EINVAL', 'void');
          memSize = btf.resolveSize(ref.id);
        } catch (e) {
          const code = e instanceof BpfError && e.errno === 'E2BIG' ? -7 : -22;
          log(`arg#${i} reference type('${btfTypeStr(ref)} ${ref.name}') size cannot be determined: ${code}`);
          return { errno: 'EINVAL' };
        }
        args.push({ type: 'ARG_PTR_TO_MEM', maybeNull: !tagNonnull, memSize });
        continue;
      }
    }
    if (tagCtx || tagNonnull) {
      log(`arg#${i} has pointer tag, but is not a pointer type`);
      return { errno: 'EINVAL' };
    }
    if (isIntOrEnum(t)) {
      args.push({ type: 'ARG_ANYTHING' });
      continue;
    }
    if (!isGlobal) return { errno: 'EINVAL' };
    log(`Arg#${i} type ${btfTypeStr(t)} in ${fn.name}() is not supported yet.`);
    return { errno: 'EINVAL' };
  }
  return { args };
}
