#!/usr/bin/env bash
# Lints on the current build (/build/out, made by `make build` or `make check`):
# rustfmt over the tree's Rust files, clippy over the kernel crate and the
# samples (a rebuild of the Rust objects with CLIPPY=1), and rustdoc. Prints
# the findings that concern this project's files; exit status 0 when there
# are none.
. "$(dirname "$0")/lib.sh"

LOGS=$CACHE/logs
mkdir -p "$LOGS"
[ -f "$ROOT$KOUT/.config" ] || die "no build in $ROOT$KOUT (run make build first)"
bash "$TOP/scripts/tree.sh" >/dev/null
mapfile -t ours < <(cd "$TOP" && git ls-files 'rust/*.rs' 'samples/*.rs')
# Our files, and the generated doctests (the examples in our docs end up there).
pattern=$(printf '%s\n' "${ours[@]}" doctests_kernel_generated.rs | sed 's/[.]/[.]/g' | paste -sd'|')
found=0

run() { # name, make arguments
	local log=$LOGS/lint-$1.log
	step "$1"
	in_root "cd $KSRC && make LLVM=1 O=$KOUT -j$JOBS $2" >"$log" 2>&1 || echo "    make failed (see $log)"
	local hits
	hits=$(grep -E -A8 '^(warning|error)' "$log" | grep -E -B3 -A5 "($pattern)" || true)
	if [ -n "$hits" ] || grep -q '^error' "$log"; then
		echo "$hits" | head -n 80
		found=$((found + 1))
	else
		echo "    clean"
	fi
}

run rustfmtcheck rustfmtcheck
run clippy "CLIPPY=1 vmlinux modules"
run rustdoc rustdoc
[ "$found" -eq 0 ]
