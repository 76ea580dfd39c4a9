#!/usr/bin/env bash
# Rebuild the scenarios' own XDP objects (the .o files are committed, so scenarios run without clang).
# Same flags as test/progs/build.sh; CLANG=... picks another compiler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
clang=${CLANG:-clang-14}
command -v "$clang" >/dev/null 2>&1 || { echo "build.sh: '$clang' not found (apt-get install clang-14)" >&2; exit 1; }
for src in xdp_*.c; do
	"$clang" -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu "-fdebug-prefix-map=$here=scenarios/progs" -c "$src" -o "${src%.c}.o"
	echo "built ${src%.c}.o"
done
