// Classic libpcap capture files (the tcpdump format: https://www.tcpdump.org/manpages/pcap-savefile.5.html,
// draft-ietf-opsawg-pcap): a 24-byte file header (magic, version 2.4, snaplen, link type) and records of
// a 16-byte header (seconds, micro- or nanoseconds, captured length, original length) and the bytes.
// Both byte orders and both time resolutions are read; files are written little-endian with microsecond
// stamps. Only Ethernet (LINKTYPE_ETHERNET) frames are taken: that is what the emulated ports carry.
// pcapng is refused with a message that says so.

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAPNG_MAGIC = 0x0a0d0d0a;
export const LINKTYPE_ETHERNET = 1;
/** The snapshot length tcpdump writes by default. */
export const PCAP_SNAPLEN = 262144;

export interface PcapRecord {
  /** Seconds and nanoseconds since the epoch (or since the capture's start). */
  readonly sec: number;
  readonly nsec: number;
  /** The captured bytes (at most snaplen). */
  readonly data: Uint8Array;
  /** The frame's length on the wire (more than data.length when the capture was cut). */
  readonly origLen: number;
}

export interface PcapFile {
  readonly linktype: number;
  readonly snaplen: number;
  readonly nanoseconds: boolean;
  readonly records: readonly PcapRecord[];
}

/** Read a classic pcap file; an Error says what is wrong and at which byte. */
export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < 24) throw new Error(`a pcap file starts with a 24-byte header; this one has ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, true);
  let le: boolean;
  let ns: boolean;
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS) {
    le = true;
    ns = m === PCAP_MAGIC_NS;
  } else {
    const mb = dv.getUint32(0, false);
    if (mb === PCAP_MAGIC_US || mb === PCAP_MAGIC_NS) {
      le = false;
      ns = mb === PCAP_MAGIC_NS;
    } else if (m === PCAPNG_MAGIC) {
      throw new Error('this is a pcapng file; convert it with `editcap -F pcap IN OUT` (classic pcap is read)');
    } else {
      throw new Error(`not a pcap file (magic 0x${m.toString(16).padStart(8, '0')})`);
    }
  }
  const major = dv.getUint16(4, le);
  const minor = dv.getUint16(6, le);
  if (major !== 2) throw new Error(`pcap version ${major}.${minor} is not 2.x`);
  const snaplen = dv.getUint32(16, le);
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  if (linktype !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${linktype} is not Ethernet (${LINKTYPE_ETHERNET})`);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < bytes.length) {
    if (at + 16 > bytes.length) throw new Error(`record ${records.length + 1} at byte ${at}: its header is cut short (${bytes.length - at} of 16 bytes)`);
    const sec = dv.getUint32(at, le);
    const frac = dv.getUint32(at + 4, le);
    const incl = dv.getUint32(at + 8, le);
    const orig = dv.getUint32(at + 12, le);
    if (!ns && frac >= 1_000_000) throw new Error(`record ${records.length + 1} at byte ${at}: ${frac} microseconds`);
    if (ns && frac >= 1_000_000_000) throw new Error(`record ${records.length + 1} at byte ${at}: ${frac} nanoseconds`);
    if (incl > Math.max(snaplen, PCAP_SNAPLEN)) throw new Error(`record ${records.length + 1} at byte ${at}: captured length ${incl} is above the snapshot length ${snaplen}`);
    if (at + 16 + incl > bytes.length) throw new Error(`record ${records.length + 1} at byte ${at}: ${incl} bytes announced, ${bytes.length - at - 16} left in the file`);
    records.push({ sec, nsec: ns ? frac : frac * 1000, data: bytes.slice(at + 16, at + 16 + incl), origLen: orig });
    at += 16 + incl;
  }
  return { linktype, snaplen, nanoseconds: ns, records };
}

/** Write frames as a little-endian, microsecond pcap; frame i is stamped `startNs + i * stepNs`. */
export function writePcap(frames: readonly Uint8Array[], opts: { startNs?: number; stepNs?: number } = {}): Uint8Array {
  let size = 24;
  for (const f of frames) size += 16 + Math.min(f.length, PCAP_SNAPLEN);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, PCAP_MAGIC_US, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, PCAP_SNAPLEN, true);
  dv.setUint32(20, LINKTYPE_ETHERNET, true);
  let at = 24;
  const start = opts.startNs ?? 0;
  const step = opts.stepNs ?? 1000;
  frames.forEach((f, i) => {
    const t = start + i * step;
    const incl = Math.min(f.length, PCAP_SNAPLEN);
    dv.setUint32(at, Math.floor(t / 1e9), true);
    dv.setUint32(at + 4, Math.floor((t % 1e9) / 1000), true);
    dv.setUint32(at + 8, incl, true);
    dv.setUint32(at + 12, f.length, true);
    out.set(f.subarray(0, incl), at + 16);
    at += 16 + incl;
  });
  return out;
}
