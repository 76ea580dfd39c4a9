// The NFP card as the host sees it on the PCI bus: its memories, the control BARs of its vNICs, the
// ctrl vNIC's message rings, and a slot for the firmware. Loading a firmware image does what the NFP's
// loader and the firmware's init do before the driver looks (nfpcore nfp_nffw/nfp_rtsym, the vNIC's BAR
// set-up): the run-time symbols are placed in IMEM, each data vNIC's BAR is filled in from the image,
// and the firmware's control handler starts.
//
// The firmware's code lives in firmware/ (which sees only src/nic and src/bpf), so the device does not
// import it: whoever builds the host passes a FirmwareStarter (firmware/runner.ts: in a worker thread,
// or in-process for deterministic tests). The device can reset the firmware (it restarts on the same
// NIC memory), unload it, or vanish altogether (surprise removal) — the cases the driver must survive.

import { BpfError } from '../bpf/errno.js';
import {
  NFP_NET_BPF_CAP_RELO, NFP_NET_CFG_BPF_ABI, NFP_NET_CFG_BPF_CAP, NFP_NET_CFG_BPF_DONE, NFP_NET_CFG_BPF_INL_MTU,
  NFP_NET_CFG_BPF_MAX_LEN, NFP_NET_CFG_BPF_STACK_SZ, NFP_NET_CFG_BPF_START, NFP_NET_CFG_CAP, NFP_NET_CFG_CTRL_BPF,
  NFP_NET_CFG_CTRL_ENABLE, NFP_NET_CFG_MAX_MTU, NFP_NET_CFG_MTU, NFP_NET_CFG_VERSION, NFP_NET_DEFAULT_MTU, NfpNetCtrlBar,
} from './ctrl-bar.js';
import type { FirmwareImage } from './fw-image.js';
import { CtrlMailbox, MBOX_STATE_DEAD, MBOX_STATE_DOWN, MBOX } from './mailbox.js';
import { IMEM_RTSYM_AREA, NicMemory, type NicMemoryShared } from './memory.js';

/** PCI_VENDOR_ID_NETRONOME. */
export const PCI_VENDOR_ID_NETRONOME = 0x19ee;

/** What the firmware, in whatever thread it runs, needs of the card: plain data, structured-cloneable. */
export interface NfpDeviceShared {
  readonly image: FirmwareImage;
  readonly memory: NicMemoryShared;
  readonly mailbox: SharedArrayBuffer;
  /** The data vNICs' control BARs, one per port. */
  readonly bars: readonly SharedArrayBuffer[];
}

/** A running firmware. */
export interface FirmwareInstance {
  readonly kind: 'worker' | 'in-process';
  /** Ask the firmware to stop (between two messages) and wait until it has. */
  stop(): Promise<void>;
  /** In-process firmware: run whatever is due now (requests waiting, delayed replies). */
  pump?(): void;
  /** The host rang the request doorbell (an in-process firmware schedules itself). */
  doorbell?(): void;
}

/** Starts the firmware's control handler on a card (firmware/runner.ts provides them). */
export type FirmwareStarter = (dev: NfpDeviceShared) => FirmwareInstance;

interface RtsymEntry {
  readonly off: number;
  readonly size: number;
}

export interface NfpDeviceOptions {
  /** The board's DRAM: one of the image's EMEM variants (default: the first). */
  ememBytes?: number;
  /** Lower the emulator's cap on real memory backing EMEM (tests). */
  ememBackingCap?: number;
  /** PCI address, as lspci and the kernel log print it. */
  pciAddr?: string;
}

export class NfpDevice {
  readonly image: FirmwareImage;
  readonly pciAddr: string;
  readonly memory: NicMemory;
  readonly mailbox: CtrlMailbox;
  readonly bars: readonly NfpNetCtrlBar[];
  private readonly rtsyms = new Map<string, RtsymEntry>();
  private starter: FirmwareStarter | undefined;
  private fw: FirmwareInstance | undefined;
  private gone = false;

  constructor(image: FirmwareImage, opts: NfpDeviceOptions = {}) {
    this.image = image;
    this.pciAddr = opts.pciAddr ?? '0000:04:00.0';
    const emem = opts.ememBytes ?? image.memory.ememVariants[0]!;
    if (!image.memory.ememVariants.includes(emem)) {
      throw new BpfError('EINVAL', `firmware ${image.name} is built for EMEM of ${image.memory.ememVariants.join('/')} bytes, not ${emem}`);
    }
    this.memory = NicMemory.create({
      cores: image.datapath.cores,
      threadsPerCore: image.datapath.threadsPerCore,
      ctmIslands: image.memory.ctmIslands,
      ctmBytesPerIsland: image.memory.ctmBytesPerIsland,
      imemBytes: image.memory.imemBytes,
      ememBytes: emem,
      ememCacheBytes: image.memory.ememCacheBytes,
      lmemBytesPerCore: image.memory.lmemBytesPerCore,
      // Every bank of the code store (a second one is paper-only: see FirmwareDatapath.codeStoreBanks).
      codeStoreInsns: image.datapath.codeStoreInsns * (image.datapath.codeStoreBanks ?? 1),
      stackBytesPerThread: image.datapath.stackBytesPerThread,
    }, opts.ememBackingCap !== undefined ? { ememBackingCap: opts.ememBackingCap } : {});
    this.mailbox = CtrlMailbox.create({ maxMessageBytes: image.ctrl.maxMtu, nslots: image.ctrl.ringSlots });
    this.bars = Array.from({ length: image.ports }, () => new NfpNetCtrlBar());
    this.placeRtsyms();
    this.programBars();
  }

  get pciVendor(): number {
    return this.image.pci.vendor;
  }

  get pciDevice(): number {
    return this.image.pci.device;
  }

  shared(): NfpDeviceShared {
    return { image: this.image, memory: this.memory.shared(), mailbox: this.mailbox.sab, bars: this.bars.map((b) => b.sab) };
  }

  /** Has the card gone away (surprise removal)? */
  get removed(): boolean {
    return this.gone;
  }

  get firmware(): FirmwareInstance | undefined {
    return this.fw;
  }

  // ---------------------------------------------------------------- run-time symbols

  /** The loader puts each symbol's bytes in the symbol area at the top of IMEM. */
  private placeRtsyms(): void {
    let off = this.memory.layout.imemBytes - IMEM_RTSYM_AREA;
    const end = this.memory.layout.imemBytes;
    for (const [name, bytes] of Object.entries(this.image.rtsym)) {
      if (off + bytes.length > end) throw new BpfError('ENOSPC', `firmware ${this.image.name}: run-time symbols exceed ${IMEM_RTSYM_AREA} bytes`);
      this.memory.imem.set(bytes, off);
      this.rtsyms.set(name, { off, size: bytes.length });
      off += (bytes.length + 7) & ~7;
    }
  }

  /** nfp_rtsym_read(): a copy of the symbol's bytes from NIC memory, or undefined if there is none. */
  rtsym_read(name: string): Uint8Array | undefined {
    const s = this.rtsyms.get(name);
    if (s === undefined) return undefined;
    return this.memory.imem.slice(s.off, s.off + s.size);
  }

  /** nfp_rtsym_read_le(): a little-endian scalar symbol (up to 8 bytes), or undefined. */
  rtsym_read_le(name: string): bigint | undefined {
    const b = this.rtsym_read(name);
    if (b === undefined || b.length === 0 || b.length > 8) return undefined;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** What the firmware writes into each data vNIC's BAR at init. */
  private programBars(): void {
    const v = this.image.vnic;
    for (const bar of this.bars) {
      bar.writel(NFP_NET_CFG_VERSION, 0x00050000);
      bar.writel(NFP_NET_CFG_CAP, NFP_NET_CFG_CTRL_ENABLE | (v.bpfCapable ? NFP_NET_CFG_CTRL_BPF : 0));
      bar.writel(NFP_NET_CFG_MAX_MTU, v.maxMtu);
      bar.writel(NFP_NET_CFG_MTU, NFP_NET_DEFAULT_MTU);
      bar.writeb(NFP_NET_CFG_BPF_ABI, v.bpf.abi);
      bar.writeb(NFP_NET_CFG_BPF_CAP, v.bpf.relo ? NFP_NET_BPF_CAP_RELO : 0);
      bar.writew(NFP_NET_CFG_BPF_MAX_LEN, v.bpf.maxLen);
      bar.writew(NFP_NET_CFG_BPF_START, v.bpf.start);
      bar.writew(NFP_NET_CFG_BPF_DONE, v.bpf.done);
      bar.writeb(NFP_NET_CFG_BPF_STACK_SZ, v.bpf.stackSz);
      bar.writeb(NFP_NET_CFG_BPF_INL_MTU, v.bpf.inlMtu);
    }
  }

  // ---------------------------------------------------------------- firmware

  /** Start the firmware's control handler (nfp_fw_load() done; the firmware comes up). */
  startFirmware(starter: FirmwareStarter): void {
    if (this.gone) throw new BpfError('ENODEV', `${this.pciAddr}: the device is gone`);
    if (this.fw !== undefined) throw new BpfError('EBUSY', `${this.pciAddr}: firmware already running`);
    this.starter = starter;
    this.mailbox.firmwareStarted();
    this.fw = starter(this.shared());
  }

  /** The host wrote a request: wake the firmware. */
  ringDoorbell(): void {
    this.fw?.doorbell?.();
  }

  private async stopFirmware(): Promise<void> {
    const fw = this.fw;
    this.fw = undefined;
    if (fw === undefined) return;
    Atomics.store(this.mailbox.hdr, MBOX.FW_STOP, 1);
    Atomics.notify(this.mailbox.hdr, MBOX.H2F_PROD);
    await fw.stop();
  }

  /**
   * A firmware reset: the control handler stops and starts again on the same NIC memory (tables
   * survive), losing the requests it had not read and the replies it had not sent.
   */
  async resetFirmware(): Promise<void> {
    if (this.gone) throw new BpfError('ENODEV', `${this.pciAddr}: the device is gone`);
    const starter = this.starter;
    if (starter === undefined) throw new BpfError('EINVAL', `${this.pciAddr}: no firmware loaded`);
    await this.stopFirmware();
    this.mailbox.discardRequests();
    this.mailbox.firmwareStarted();
    this.fw = starter(this.shared());
  }

  /** nfp_fw_unload(): the firmware stops; the channel goes down. */
  async unloadFirmware(): Promise<void> {
    await this.stopFirmware();
    if (!this.gone) this.mailbox.state = MBOX_STATE_DOWN;
    this.starter = undefined;
  }

  /** The card vanishes from the bus: nothing answers any more; the driver is told through the channel. */
  async surpriseRemove(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    this.mailbox.state = MBOX_STATE_DEAD;
    await this.stopFirmware();
  }
}
