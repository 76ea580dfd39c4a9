#!/usr/bin/env bash
# Rebuild the test XDP objects in this folder from their C sources.
#
# The .o files are committed, so tests run on machines without clang; run this
# (or `npm run progs`) after changing a .c file and commit both. Usage:
#   bash test/progs/build.sh              # every program
#   bash test/progs/build.sh xdp_l4lb     # only the named ones (negative/xdp_map_null too)
# CLANG=... overrides the compiler; the objects in git were built by clang-14.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

clang=${CLANG:-clang-14}
if ! command -v "$clang" >/dev/null 2>&1; then
	echo "build.sh: '$clang' not found. Install it (Debian/Ubuntu: apt-get install clang-14)" >&2
	echo "          or point CLANG at another clang that has the BPF target." >&2
	exit 1
fi

# asm/types.h and friends live in the multiarch include dir on Debian/Ubuntu.
# The debug prefix map keeps the absolute checkout path out of the objects,
# so a rebuild in another clone gives the same bytes.
cflags=(-O2 -g -Wall -Werror -target bpf
	-I/usr/include/x86_64-linux-gnu
	"-fdebug-prefix-map=$here=test/progs")

# Programs that need more than the common flags.
extra_flags() {
	case "$1" in
	xdp_alu32) echo "-mcpu=v3" ;; # 32-bit subregisters (w0..w10) and JMP32
	*) echo "" ;;
	esac
}

# Programs in negative/ are built the same way; they exist to be rejected.
if [ "$#" -gt 0 ]; then
	names=("$@")
else
	names=()
	for src in xdp_*.c negative/xdp_*.c; do
		names+=("${src%.c}")
	done
fi

for name in "${names[@]}"; do
	name=${name%.c}
	name=${name%.o}
	if [ ! -f "$name.c" ]; then
		echo "build.sh: no source $here/$name.c" >&2
		exit 1
	fi
	# shellcheck disable=SC2046 # extra_flags is a word list on purpose
	"$clang" "${cflags[@]}" $(extra_flags "$(basename "$name")") -c "$name.c" -o "$name.o"
	echo "built $name.o"
done
