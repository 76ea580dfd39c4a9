// Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h) and the one error type every
// layer throws. The syscall layer turns a BpfError into -errno, as the kernel returns it; the CLI
// prints `message` (or strerror) and exits non-zero. Nobody switches on message text.

/** errno name -> [number, strerror text as glibc prints it]. The ONE errno table of the project. */
export const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  ENOEXEC: [8, 'Exec format error'],
  EBADF: [9, 'Bad file descriptor'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  EXDEV: [18, 'Invalid cross-device link'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENFILE: [23, 'Too many open files in system'],
  EMFILE: [24, 'Too many open files'],
  ENOSPC: [28, 'No space left on device'],
  ERANGE: [34, 'Numerical result out of range'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOSYS: [38, 'Function not implemented'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENOMSG: [42, 'No message of desired type'],
  EBADFD: [77, 'File descriptor in bad state'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  EAFNOSUPPORT: [97, 'Address family not supported by protocol'],
  ETIMEDOUT: [110, 'Connection timed out'],
  ERESTARTSYS: [512, 'Unknown error 512'],
  ENOTSUPP: [524, 'Unknown error 524'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrnoName = keyof typeof ERRNO;

export function errnoNumber(name: ErrnoName): number {
  return ERRNO[name][0];
}

/** strerror(3) for a name or a positive errno number. */
export function strerror(e: ErrnoName | number): string {
  if (typeof e === 'string') return ERRNO[e][1];
  for (const [, [n, text]] of Object.entries(ERRNO)) if (n === e) return text;
  return `Unknown error ${e}`;
}

export function errnoName(n: number): ErrnoName | undefined {
  for (const [name, [num]] of Object.entries(ERRNO)) if (num === n) return name as ErrnoName;
  return undefined;
}

/**
 * The error every layer throws: an errno a program can act on, and the message a user would see
 * (a verifier line, a libbpf/bpftool complaint, a driver's extack). `message` defaults to strerror.
 */
export class BpfError extends Error {
  readonly errno: ErrnoName;

  constructor(errno: ErrnoName, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRNO[errno][1], options);
    this.name = 'BpfError';
    this.errno = errno;
  }

  /** The kernel's return value for this error: -errno. */
  get code(): number {
    return -ERRNO[this.errno][0];
  }
}

export function isBpfError(e: unknown, errno?: ErrnoName): e is BpfError {
  return e instanceof BpfError && (errno === undefined || e.errno === errno);
}
