// Asks the machine's kernel for its verdict on many XDP programs in one process (raw bpf(2), no
// libbpf): the soundness fuzzer's oracle for "does the real verifier accept this?" (oracle.ts).
//
// stdin:   map <type> <key_size> <value_size> <max_entries>     (any number, first; fd_array order)
//          prog <hex of struct bpf_insn[]>                       (one line per program)
// stdout:  per program one line: "ok", or "err <errno> <the log's reason line>"; a failed map create
//          prints "maperr <errno>" and exits 1.
//
// Programs name maps with BPF_PSEUDO_MAP_IDX / BPF_PSEUDO_MAP_IDX_VALUE through fd_array, so the
// instructions go to the kernel exactly as generated.

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_MAPS 16
#define LOG_SIZE (1 << 22)

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The line that says why: the last non-empty line before "processed N insns", else the last line.
static void reason(const char *log, char *out, size_t outsz) {
  const char *end = strstr(log, "\nprocessed ");
  if (end == NULL) end = log + strlen(log);
  while (end > log && (end[-1] == '\n' || end[-1] == ' ')) end--;
  const char *start = end;
  while (start > log && start[-1] != '\n') start--;
  size_t n = (size_t)(end - start);
  if (n >= outsz) n = outsz - 1;
  memcpy(out, start, n);
  out[n] = '\0';
}

int main(void) {
  static char line[1 << 21];
  static char log[LOG_SIZE];
  static unsigned char code[1 << 20];
  int fds[MAX_MAPS];
  int nmaps = 0;
  while (fgets(line, sizeof(line), stdin) != NULL) {
    if (strncmp(line, "map ", 4) == 0) {
      unsigned type, key, value, entries;
      if (sscanf(line + 4, "%u %u %u %u", &type, &key, &value, &entries) != 4 || nmaps == MAX_MAPS) return 2;
      union bpf_attr attr;
      memset(&attr, 0, sizeof(attr));
      attr.map_type = type;
      attr.key_size = key;
      attr.value_size = value;
      attr.max_entries = entries;
      int fd = (int)sys_bpf(BPF_MAP_CREATE, &attr);
      if (fd < 0) {
        printf("maperr %d\n", errno);
        return 1;
      }
      fds[nmaps++] = fd;
      continue;
    }
    if (strncmp(line, "prog ", 5) != 0) continue;
    size_t n = 0;
    for (const char *p = line + 5; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < sizeof(code); p += 2) code[n++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_XDP;
    attr.insns = (uint64_t)(uintptr_t)code;
    attr.insn_cnt = (uint32_t)(n / 8);
    attr.license = (uint64_t)(uintptr_t)"GPL";
    attr.log_level = 1;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = LOG_SIZE;
    attr.fd_array = (uint64_t)(uintptr_t)fds;
    log[0] = '\0';
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) {
      close(fd);
      printf("ok\n");
    } else {
      char why[512];
      int err = errno;
      reason(log, why, sizeof(why));
      printf("err %d %s\n", err, why);
    }
    fflush(stdout);
  }
  return 0;
}
