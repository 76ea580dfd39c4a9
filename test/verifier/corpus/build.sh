#!/usr/bin/env bash
# Rebuild the C cases of the verifier corpus (test/verifier/corpus/c/*.c) into the committed .o
# files, the way test/progs/build.sh builds the project's programs. Run it after changing a .c and
# commit both; the tests load the committed objects, so they run on machines without clang.
#   bash test/verifier/corpus/build.sh             # every case
#   bash test/verifier/corpus/build.sh tail_call   # just the named ones
# CLANG=... overrides the compiler; the objects in git were built by clang-14.
set -euo pipefail

here=$(cd "$(dirname "$0")/c" && pwd)
cd "$here"

clang=${CLANG:-clang-14}
if ! command -v "$clang" >/dev/null 2>&1; then
	echo "build.sh: '$clang' not found. Install it (Debian/Ubuntu: apt-get install clang-14)" >&2
	echo "          or point CLANG at another clang that has the BPF target." >&2
	exit 1
fi

# The debug prefix map keeps the checkout path out of the objects, so a rebuild in another clone
# gives the same bytes.
cflags=(-O2 -g -Wall -Werror -target bpf
	-I/usr/include/x86_64-linux-gnu
	"-fdebug-prefix-map=$here=test/verifier/corpus/c")

extra_flags() {
	case "$1" in
	alu32_index) echo "-mcpu=v3" ;; # 32-bit subregisters (w0..w10) and JMP32
	*) echo "" ;;
	esac
}

if [ "$#" -gt 0 ]; then
	names=("$@")
else
	names=()
	for src in *.c; do
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
	"$clang" "${cflags[@]}" $(extra_flags "$name") -c "$name.c" -o "$name.o"
	echo "built c/$name.o"
done
