// A vNIC's control BAR (drivers/net/ethernet/netronome/nfp/nfp_net_ctrl.h): the registers the firmware
// fills in and the driver reads with readb/readw/readl (little-endian). Only what the offload path uses
// is modeled: the control and capability words (NFP_NET_CFG_CTRL_BPF says "BPF offload capable"), the
// MTUs, and the BPF section — the ABI version the datapath implements, its capabilities (live reload),
// the code-store limit, where the program is loaded and where it jumps when done, the stack and the
// packet split point. The next stage's JIT and attach path read the same registers.
//
// The BAR is a SharedArrayBuffer, so the firmware in its worker and the driver see one copy.

export const NFP_NET_CFG_BAR_SZ = 0x1000;

export const NFP_NET_CFG_CTRL = 0x0000;
export const NFP_NET_CFG_UPDATE = 0x0004;
export const NFP_NET_CFG_MTU = 0x0018;
export const NFP_NET_CFG_VERSION = 0x0030;
export const NFP_NET_CFG_STS = 0x0034;
export const NFP_NET_CFG_CAP = 0x0038;
export const NFP_NET_CFG_MAX_MTU = 0x0044;

export const NFP_NET_CFG_CTRL_ENABLE = 1 << 0;
/** "BPF offload capable": the datapath can run a loaded BPF program. */
export const NFP_NET_CFG_CTRL_BPF = 1 << 27;

export const NFP_NET_CFG_UPDATE_GEN = 1 << 0;
export const NFP_NET_CFG_UPDATE_BPF = 1 << 10;
/** Set by the firmware in NFP_NET_CFG_UPDATE when it could not apply a reconfig. */
export const NFP_NET_CFG_UPDATE_ERR = 1 << 31;

export const NFP_NET_CFG_BPF_ABI = 0x0080;
export const NFP_NET_CFG_BPF_CAP = 0x0081;
/** Seamless reload: a live program may be replaced. */
export const NFP_NET_BPF_CAP_RELO = 1 << 0;
/** Maximum JITed program length, in instructions (the header's comment says bytes; the driver uses instructions). */
export const NFP_NET_CFG_BPF_MAX_LEN = 0x0082;
export const NFP_NET_CFG_BPF_START = 0x0084;
export const NFP_NET_CFG_BPF_DONE = 0x0086;
/** Stack per thread, in 64-byte units. */
export const NFP_NET_CFG_BPF_STACK_SZ = 0x0088;
/** Packet split offset (bytes of the packet inline in CTM), in 64-byte units. */
export const NFP_NET_CFG_BPF_INL_MTU = 0x0089;
export const NFP_NET_CFG_BPF_SIZE = 0x008e;
export const NFP_NET_CFG_BPF_ADDR = 0x0090;

/** NFP_NET_DEFAULT_MTU (nfp_net.h): the MTU a vNIC starts with. */
export const NFP_NET_DEFAULT_MTU = 1500;

export class NfpNetCtrlBar {
  readonly sab: SharedArrayBuffer;
  private readonly dv: DataView;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(NFP_NET_CFG_BAR_SZ);
    this.dv = new DataView(this.sab);
  }

  /** Unmapped BAR space reads as all-ones, as a PCI read past the BAR does. */
  readb(off: number): number {
    return off >= 0 && off < this.dv.byteLength ? this.dv.getUint8(off) : 0xff;
  }

  readw(off: number): number {
    return off >= 0 && off + 2 <= this.dv.byteLength ? this.dv.getUint16(off, true) : 0xffff;
  }

  readl(off: number): number {
    return off >= 0 && off + 4 <= this.dv.byteLength ? this.dv.getUint32(off, true) : 0xffffffff;
  }

  readq(off: number): bigint {
    return off >= 0 && off + 8 <= this.dv.byteLength ? this.dv.getBigUint64(off, true) : 0xffffffffffffffffn;
  }

  writeb(off: number, v: number): void {
    this.dv.setUint8(off, v);
  }

  writew(off: number, v: number): void {
    this.dv.setUint16(off, v, true);
  }

  writel(off: number, v: number): void {
    this.dv.setUint32(off, v >>> 0, true);
  }

  writeq(off: number, v: bigint): void {
    this.dv.setBigUint64(off, v, true);
  }
}
