// kernel-load: hand one corpus case to the real kernel's BPF_PROG_LOAD, exactly as the emulator's
// BpfSyscall.progLoad receives it, and print the verdict and the verifier log.
//
// Why not bpftool: `bpftool prog load` takes an ELF object and goes through libbpf, which rewrites or
// refuses some programs before the kernel sees them (bpf-to-bpf callees must live in .text, legacy map
// definitions are gone in libbpf 1.x, a failed load is retried to fetch the log). The corpus wants the
// kernel's answer on the raw instructions, so this is the few lines of bpf(2) that bpftool would run.
// corpus.ts compiles it with the host's C compiler into a temporary directory.
//
// Input (stdin), one directive a line:
//   prog <prog_type> <expected_attach_type> <prog_flags> <log_level> <log_size>
//   map <map_type> <key_size> <value_size> <max_entries> <map_flags> <name>
//   license <name>                    default GPL
//   ref <insn index> <map index>     the lddw at <insn index> gets the fd of map <map index> in imm
//   insns <hex of the raw struct bpf_insn array, little-endian>
// Output (stdout): "ok" or "errno <n>", then "log <length>", then the log text.

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_MAPS 64

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static void die(const char *what)
{
	fprintf(stderr, "kernel-load: %s\n", what);
	exit(2);
}

static char *read_all(FILE *f)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;

	if (!buf)
		die("out of memory");
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
	}
	buf[len] = '\0';
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int main(void)
{
	char *text = read_all(stdin);
	int map_fds[MAX_MAPS];
	int nmaps = 0;
	struct bpf_insn *insns = NULL;
	size_t ninsns = 0;
	struct { unsigned insn, map; } refs[256];
	int nrefs = 0;
	unsigned prog_type = 0, attach = 0, flags = 0, level = 1, log_size = 16u << 20;
	char license[64] = "GPL";
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "prog ", 5) == 0) {
			if (sscanf(line + 5, "%u %u %u %u %u", &prog_type, &attach, &flags, &level, &log_size) != 5)
				die("bad prog line");
		} else if (strncmp(line, "license ", 8) == 0) {
			if (sscanf(line + 8, "%63s", license) != 1)
				die("bad license line");
		} else if (strncmp(line, "map ", 4) == 0) {
			union bpf_attr a;
			char name[BPF_OBJ_NAME_LEN] = "";
			int fd;

			memset(&a, 0, sizeof(a));
			if (nmaps == MAX_MAPS)
				die("too many maps");
			if (sscanf(line + 4, "%u %u %u %u %u %15s", &a.map_type, &a.key_size, &a.value_size,
				   &a.max_entries, &a.map_flags, name) < 5)
				die("bad map line");
			memcpy(a.map_name, name, sizeof(a.map_name));
			fd = sys_bpf(BPF_MAP_CREATE, &a);
			if (fd < 0) {
				printf("map-errno %d\n", errno);
				return 0;
			}
			map_fds[nmaps++] = fd;
		} else if (strncmp(line, "ref ", 4) == 0) {
			if (nrefs == 256)
				die("too many map references");
			if (sscanf(line + 4, "%u %u", &refs[nrefs].insn, &refs[nrefs].map) != 2)
				die("bad ref line");
			nrefs++;
		} else if (strncmp(line, "insns ", 6) == 0) {
			const char *hex = line + 6;
			size_t len = strlen(hex), i;
			uint8_t *bytes;

			if (len % 16 != 0)
				die("insns: not a whole number of instructions");
			ninsns = len / 16;
			bytes = malloc(len / 2 + 1);
			if (!bytes)
				die("out of memory");
			for (i = 0; i < len / 2; i++) {
				int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

				if (hi < 0 || lo < 0)
					die("insns: bad hex");
				bytes[i] = (uint8_t)(hi << 4 | lo);
			}
			insns = (struct bpf_insn *)bytes;
		} else {
			die("unknown directive");
		}
	}
	if (!insns)
		die("no insns");
	for (int r = 0; r < nrefs; r++) {
		if (refs[r].insn >= ninsns || refs[r].map >= (unsigned)nmaps)
			die("ref out of range");
		insns[refs[r].insn].imm = map_fds[refs[r].map];
	}

	char *log = calloc(1, (size_t)log_size + 1);
	union bpf_attr a;

	if (!log)
		die("out of memory");
	memset(&a, 0, sizeof(a));
	a.prog_type = prog_type;
	a.expected_attach_type = attach;
	a.prog_flags = flags;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)ninsns;
	a.license = (uintptr_t)license;
	a.log_level = level;
	a.log_size = level ? log_size : 0;
	a.log_buf = level ? (uintptr_t)log : 0;
	if (nmaps > 0)
		a.fd_array = (uintptr_t)map_fds;
	strncpy(a.prog_name, "corpus", sizeof(a.prog_name) - 1);

	int fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		printf("ok\n");
	else
		printf("errno %d\n", errno);
	printf("log %zu\n%s", strlen(log), log);
	return 0;
}
