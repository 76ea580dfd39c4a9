// tools/bpf/bpftool/net.c and netlink_dumper.c: `bpftool net` — show/list the XDP programs of every
// net device (or one: `dev NAME`) per mode, as the RTM_GETLINK dump's IFLA_XDP nest reports them
// (rtnl_xdp_fill), then tc and flow_dissector attachments (the emulated host has neither, so those
// sections stay empty), and attach/detach of XDP programs in the four ATTACH_TYPEs through
// IFLA_XDP (libbpf's bpf_xdp_attach()). A refusal carries the kernel's extack, which libbpf prints as
// "Kernel error message: ..." before bpftool's own error.

import { errnoNumber, strerror } from '../../bpf/errno.js';
import { NetlinkExtAck } from '../../kernel/net/extack.js';
import {
  rtnl_setlink_xdp, rtnl_xdp_fill, XDP_ATTACHED_DRV, XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_ATTACHED_NONE, XDP_ATTACHED_SKB,
  XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST,
} from '../../kernel/net/dev-xdp.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import { errnoOf, ifNameToIndex, isPrefix, progParseFd, type Args, type Bpftool } from './common.js';
import type { Cmd } from './prog.js';

/** enum net_attach_type and attach_type_strings[]: matched as prefixes, in this order. */
const ATTACH_TYPES = ['xdp', 'xdpgeneric', 'xdpdrv', 'xdpoffload'] as const;
type NetAttachType = (typeof ATTACH_TYPES)[number];

const EINVAL = -errnoNumber('EINVAL');

function parseAttachType(s: string | undefined): NetAttachType | undefined {
  return ATTACH_TYPES.find((t) => isPrefix(s, t));
}

/** net_parse_dev(): `dev NAME`; 0 after "invalid devname", -1 without `dev`. */
function netParseDev(b: Bpftool, a: Args): number {
  if (!isPrefix(a.cur, 'dev')) {
    b.p_err(`expected 'dev', got: '${a.cur ?? '(null)'}'?`);
    return -1;
  }
  a.next();
  const name = a.cur ?? '';
  const ifindex = ifNameToIndex(b, name);
  if (ifindex === 0) b.p_err(`invalid devname ${name}`);
  a.next();
  return ifindex;
}

// ---------------------------------------------------------------------------------------------
// show: the NET_* macros of netlink_dumper.h write plain text to stdout or the JSON writer.

/** xdp_dump_prog_id(): " %s" mode, " id %u" (an object of its own in a multi-attachment list). */
function xdpDumpProgId(b: Bpftool, id: number, mode: string, newJsonObject: boolean): void {
  if (id === 0) return;
  if (b.jsonOutput) {
    if (newJsonObject) b.jw.startObject();
    b.jw.stringField('mode', mode);
    b.jw.numberField('id', id);
    if (newJsonObject) b.jw.endObject();
  } else {
    b.printf(` ${mode} id ${id}`);
  }
}

/** do_xdp_dump_one(): "%s(%d)" and the program of each mode, or nothing when none is attached. */
function xdpDumpOne(b: Bpftool, dev: NetDevice): void {
  const x = rtnl_xdp_fill(dev);
  if (x.attached === XDP_ATTACHED_NONE) return;
  if (b.jsonOutput) {
    b.jw.startObject();
    b.jw.stringField('devname', dev.name);
    b.jw.numberField('ifindex', dev.ifindex);
  } else {
    b.printf(`${dev.name}(${dev.ifindex | 0})`);
  }
  if (x.attached === XDP_ATTACHED_MULTI) {
    if (b.jsonOutput) {
      b.jw.name('multi_attachments');
      b.jw.startArray();
    }
    xdpDumpProgId(b, x.skb_prog_id, 'generic', true);
    xdpDumpProgId(b, x.drv_prog_id, 'driver', true);
    xdpDumpProgId(b, x.hw_prog_id, 'offload', true);
    if (b.jsonOutput) b.jw.endArray();
  } else if (x.attached === XDP_ATTACHED_DRV) {
    xdpDumpProgId(b, x.prog_id, 'driver', false);
  } else if (x.attached === XDP_ATTACHED_SKB) {
    xdpDumpProgId(b, x.prog_id, 'generic', false);
  } else if (x.attached === XDP_ATTACHED_HW) {
    xdpDumpProgId(b, x.prog_id, 'offload', false);
  }
  if (b.jsonOutput) b.jw.endObject();
  else b.printf('\n');
}

/** NET_START_ARRAY(name, "%s:\n") ... NET_END_ARRAY("\n"). */
function section(b: Bpftool, name: string, body: () => void): void {
  if (b.jsonOutput) {
    b.jw.name(name);
    b.jw.startArray();
  } else {
    b.printf(`${name}:\n`);
  }
  body();
  if (b.jsonOutput) b.jw.endArray();
  else b.printf('\n');
}

function doShow(b: Bpftool, a: Args): number {
  let filter = -1;
  if (a.count === 2) {
    filter = netParseDev(b, a);
    if (filter < 1) return -1;
  } else if (a.count !== 0) {
    b.usage();
  }
  // The RTM_GETLINK dump: every device of the namespace, in ifindex order.
  const devs = [...b.kernel.netdevs].filter((d) => filter <= 0 || d.ifindex === filter);
  if (b.jsonOutput) {
    b.jw.startArray();
    b.jw.startObject();
  }
  section(b, 'xdp', () => {
    for (const d of devs) xdpDumpOne(b, d);
  });
  // No tc filters or qdiscs with BPF programs, no flow dissector program: empty sections.
  section(b, 'tc', () => {});
  section(b, 'flow_dissector', () => {});
  if (b.jsonOutput) {
    b.jw.endObject();
    b.jw.endArray();
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// attach / detach

/**
 * do_attach_detach_xdp() with libbpf's bpf_xdp_attach(): IFLA_XDP with the program (or -1) and the
 * mode's flags. Resolves to 0 or libbpf's -errno, after libbpf printed the kernel's extack.
 */
async function attachDetachXdp(b: Bpftool, progFd: number, type: NetAttachType, ifindex: number, overwrite: boolean): Promise<number> {
  let flags = overwrite ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST;
  if (type === 'xdpgeneric') flags |= XDP_FLAGS_SKB_MODE;
  if (type === 'xdpdrv') flags |= XDP_FLAGS_DRV_MODE;
  if (type === 'xdpoffload') flags |= XDP_FLAGS_HW_MODE;
  const dev = b.kernel.netdevs.dev_get_by_index(ifindex);
  const extack = new NetlinkExtAck();
  try {
    // The device went away since if_nametoindex(): RTM_SETLINK finds no such ifindex.
    if (dev === undefined) return -errnoNumber('ENODEV');
    await rtnl_setlink_xdp(b.kernel, dev, { fd: progFd, flags }, extack);
    return 0;
  } catch (e) {
    const errno = errnoOf(e);
    if (extack._msg !== undefined) b.libbpfWarn(`Kernel error message: ${extack._msg}`);
    return -errnoNumber(errno);
  }
}

async function doAttach(b: Bpftool, a: Args): Promise<number> {
  if (!a.req(5)) return EINVAL;
  const type = parseAttachType(a.cur);
  if (type === undefined) {
    b.p_err(`invalid net attach/detach type: ${a.cur ?? '(null)'}`);
    return EINVAL;
  }
  a.next();
  const progFd = progParseFd(b, a);
  if (progFd < 0) return EINVAL;
  try {
    const ifindex = netParseDev(b, a);
    if (ifindex < 1) return EINVAL;
    let overwrite = false;
    if (a.count > 0) {
      if (!isPrefix(a.cur, 'overwrite')) {
        b.p_err(`expected 'overwrite', got: '${a.cur!}'?`);
        return EINVAL;
      }
      overwrite = true;
    }
    const err = await attachDetachXdp(b, progFd, type, ifindex, overwrite);
    if (err) {
      b.p_err(`interface ${type} attach failed: ${strerror(-err)}`);
      return err;
    }
    if (b.jsonOutput) b.jw.null();
    return 0;
  } finally {
    b.close(progFd);
  }
}

async function doDetach(b: Bpftool, a: Args): Promise<number> {
  if (!a.req(3)) return EINVAL;
  const type = parseAttachType(a.cur);
  if (type === undefined) {
    b.p_err(`invalid net attach/detach type: ${a.cur ?? '(null)'}`);
    return EINVAL;
  }
  a.next();
  const ifindex = netParseDev(b, a);
  if (ifindex < 1) return EINVAL;
  const err = await attachDetachXdp(b, -1, type, ifindex, false);
  if (err < 0) {
    b.p_err(`interface ${type} detach failed: ${strerror(-err)}`);
    return err;
  }
  if (b.jsonOutput) b.jw.null();
  return 0;
}

export const NET_HELP = (bin: string, obj: string): string => `Usage: ${bin} ${obj} { show | list } [dev <devname>]
       ${bin} ${obj} attach ATTACH_TYPE PROG dev <devname> [ overwrite ]
       ${bin} ${obj} detach ATTACH_TYPE dev <devname>
       ${bin} ${obj} help

       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       ATTACH_TYPE := { xdp | xdpgeneric | xdpdrv | xdpoffload }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} }

Note: Only xdp and tc attachments are supported now.
      For progs attached to cgroups, use "bpftool cgroup"
      to dump program attachments. For program types
      sk_{filter,skb,msg,reuseport} and lwt/seg6, please
      consult iproute2.
`;

export const NET_CMDS: readonly Cmd[] = [
  ['show', doShow],
  ['list', doShow],
  ['attach', doAttach],
  ['detach', doDetach],
  ['help', () => 0], // the caller prints the help, which knows the object word typed
];
