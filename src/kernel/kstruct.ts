// Sizes and offsets of the kernel's own structures that show through to BPF users: in memlock figures
// (map_mem_usage), in the xlated program (loads the verifier writes against struct xdp_buff and friends,
// inlined map lookups), in limits the map code checks. They are those of the x86-64 6.18 kernel this
// emulator follows, each read off that kernel with bpftool (map show memlock, prog dump xlated).

export const PAGE_SIZE = 4096;
export const SIZEOF_PTR = 8;

// kernel/bpf/arraymap.c
/** sizeof(struct bpf_array) = offsetof(struct bpf_array, value) (and of .pptrs). */
export const SIZEOF_BPF_ARRAY = 312;

// kernel/bpf/hashtab.c
export const SIZEOF_BPF_HTAB = 832;
/** sizeof(struct htab_elem) = offsetof(struct htab_elem, key). */
export const SIZEOF_HTAB_ELEM = 48;
/** offsetof(struct htab_elem, lru_node) + offsetof(struct bpf_lru_node, ref). */
export const HTAB_ELEM_LRU_REF = 35;
export const SIZEOF_BUCKET = 16;
export const HASHTAB_MAP_LOCK_COUNT = 8;

// kernel/bpf/devmap.c
export const SIZEOF_BPF_DTAB = 344;

// include/net/xdp.h, include/linux/netdevice.h
export const XDP_BUFF = { data: 0, data_end: 8, data_meta: 16, data_hard_start: 24, rxq: 32, txq: 40 } as const;
export const XDP_RXQ_INFO = { dev: 0, queue_index: 8 } as const;
export const XDP_TXQ_INFO = { dev: 0 } as const;
export const NET_DEVICE_IFINDEX = 224;

/** (u32)(unsigned long)&pcpu_hot.cpu_number: the per-CPU load bpf_get_smp_processor_id is inlined to. */
export const PCPU_CPU_NUMBER = -2085568460;
