// BPF_PROG_TEST_RUN for XDP programs (net/bpf/test_run.c bpf_prog_test_run_xdp + bpf_test_run): the
// packet is set up in one xdp_buff per CPU (reused, no allocation per run), the program runs `repeat`
// times on that same buffer — as in the kernel, what one run does to the packet (adjust_head...) the
// next run sees — under the RCU read lock, and the reported duration is the measured average.

import { BpfError } from '../bpf/errno.js';
import { BPF_ATTACH_TYPE } from '../bpf/prog-types.js';
import { interpret } from './exec/interpreter.js';
import type { ExecContext } from './exec/context.js';
import type { Kernel } from './kernel.js';
import { XDP_MD_SIZE, XdpBuff, xdp_md_from_bytes, xdp_md_to_bytes, type XdpMd } from './net/xdp.js';
import type { BpfProg } from './prog.js';
import type { TestRunAttr, TestRunResult } from './syscall.js';

export const BPF_F_TEST_RUN_ON_CPU = 1 << 0;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

const buffs = new WeakMap<ExecContext, XdpBuff>();

/** The CPU's xdp_buff, made on first use and kept for the life of the CPU. */
export function xdpBuffOf(x: ExecContext): XdpBuff {
  let b = buffs.get(x);
  if (b === undefined) {
    b = new XdpBuff(x.env.mem);
    buffs.set(x, b);
  }
  return b;
}

/** Run a loaded program once on CPU x with r1 = ctx (JIT image when there is one, else the interpreter). */
export function runProg(prog: BpfProg, x: ExecContext, ctxHi: number): number {
  if (prog.jited !== undefined) prog.jited.run(x, 0, ctxHi);
  else interpret(prog, x, 0, ctxHi);
  return x.R[0]! >>> 0;
}

export function bpf_prog_test_run_xdp(k: Kernel, prog: BpfProg, attr: TestRunAttr): TestRunResult {
  const flags = attr.flags ?? 0;
  if ((flags & ~BPF_F_TEST_XDP_LIVE_FRAMES) !== 0) throw new BpfError('EINVAL', `BPF_PROG_TEST_RUN: flags 0x${flags.toString(16)} not valid for XDP`);
  if ((flags & BPF_F_TEST_XDP_LIVE_FRAMES) !== 0) throw new BpfError('EOPNOTSUPP', 'BPF_PROG_TEST_RUN: live frames mode is not modelled');
  if ((attr.cpu ?? 0) !== 0) throw new BpfError('EINVAL', 'BPF_PROG_TEST_RUN: cpu is only for BPF_F_TEST_RUN_ON_CPU');
  if ((attr.batch_size ?? 0) !== 0) throw new BpfError('EINVAL', 'BPF_PROG_TEST_RUN: batch_size is only for live frames');
  if (prog.expectedAttachType === BPF_ATTACH_TYPE.XDP_DEVMAP || prog.expectedAttachType === BPF_ATTACH_TYPE.XDP_CPUMAP) {
    throw new BpfError('EINVAL', 'BPF_PROG_TEST_RUN: devmap/cpumap programs cannot be test-run');
  }
  const dataIn = attr.data_in;
  if (dataIn === undefined) throw new BpfError('EINVAL', 'BPF_PROG_TEST_RUN: no data_in');
  let ctxIn: XdpMd | undefined;
  if (attr.ctx_in !== undefined && attr.ctx_in.length > 0) {
    if (attr.ctx_in.length > XDP_MD_SIZE && attr.ctx_in.subarray(XDP_MD_SIZE).some((b) => b !== 0)) {
      throw new BpfError('E2BIG', `BPF_PROG_TEST_RUN: ctx_in of ${attr.ctx_in.length} bytes is larger than struct xdp_md`);
    }
    ctxIn = xdp_md_from_bytes(attr.ctx_in);
  }
  const repeat = Math.max(1, attr.repeat ?? 0);
  if (!Number.isInteger(repeat) || repeat > 0xffffffff) throw new BpfError('EINVAL', `BPF_PROG_TEST_RUN: bad repeat ${attr.repeat}`);

  const x = k.cpus[0]!;
  const buff = xdpBuffOf(x);
  buff.testRunInit(dataIn, ctxIn, k.netdevs);
  const ctxHi = buff.ctx.hi;

  let retval = 0;
  k.rcu.rcu_read_lock();
  const t0 = process.hrtime.bigint();
  try {
    if (prog.jited !== undefined) {
      prog.jited.runN(x, 0, ctxHi, repeat);
      retval = x.R[0]! >>> 0;
    } else {
      for (let i = 0; i < repeat; i++) retval = runProg(prog, x, ctxHi);
    }
  } finally {
    k.rcu.rcu_read_unlock();
  }
  const total = Number(process.hrtime.bigint() - t0);
  if (k.statsEnabled) {
    prog.runCnt += repeat;
    prog.runTimeNs += total;
  }

  const out = buff.dataOut();
  const result: TestRunResult = {
    retval,
    duration: Math.min(0xffffffff, Math.floor(total / repeat)),
    data_size_out: out.length,
    data_out: attr.data_size_out !== undefined && attr.data_size_out < out.length ? out.subarray(0, attr.data_size_out) : out,
    ...(ctxIn !== undefined ? { ctx_out: xdp_md_to_bytes(buff.ctxOut(ctxIn)) } : {}),
  };
  if (attr.data_size_out !== undefined && attr.data_size_out < out.length) {
    // bpf_test_finish(): the truncated copy is made, then -ENOSPC.
    throw Object.assign(new BpfError('ENOSPC', `BPF_PROG_TEST_RUN: data_out needs ${out.length} bytes, room for ${attr.data_size_out}`), { result });
  }
  return result;
}
