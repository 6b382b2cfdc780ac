#!/usr/bin/env bash
# Lints on the current build (/build/out, made by `make build` or `make check`):
# rustfmt over the tree's Rust files, clippy over the kernel crate and the
# samples (a rebuild of the Rust objects with CLIPPY=1), rustdoc, the Sphinx
# build of Documentation/rust (our guide must raise no warning), and
# checkpatch --strict over the exported patch series (no error, warning or
# check at all). Prints the findings that concern this project's files; each
# lint counts as one test ("lint: N passed, N failed", also written to
# $CACHE/logs/lint.counts); exit status 0 when there are none.
. "$(dirname "$0")/lib.sh"

LOGS=$CACHE/logs
mkdir -p "$LOGS"
[ -f "$ROOT$KOUT/.config" ] || die "no build in $ROOT$KOUT (run make build first)"
bash "$TOP/scripts/tree.sh" >/dev/null
mapfile -t ours < <(cd "$TOP" && git ls-files 'rust/*.rs' 'samples/*.rs')
# Our files, and the generated doctests (the examples in our docs end up there).
pattern=$(printf '%s\n' "${ours[@]}" doctests_kernel_generated.rs | sed 's/[.]/[.]/g' | paste -sd'|')
found=0 passed=0
rm -f "$LOGS/lint.counts"

run() { # name, make arguments
	local log=$LOGS/lint-$1.log
	step "$1"
	local hits ok=1
	in_root "cd $KSRC && make LLVM=1 O=$KOUT -j$JOBS $2" >"$log" 2>&1 || ok=0
	hits=$(grep -E -A8 '^(warning|error)' "$log" | grep -E -B3 -A5 "($pattern)" || true)
	# rustfmtcheck reports as "Diff in <file>" and fails; any failed make is a finding.
	[ $ok = 1 ] || hits+=$'\n'"    make failed (see $log):"$'\n'"$(grep -E -A6 '^(Diff in|error)' "$log" | head -n 40)"
	if [ -n "$hits" ]; then
		echo "$hits" | head -n 80
		found=$((found + 1))
	else
		echo "    clean"
		passed=$((passed + 1))
	fi
}

# A step that is a plain command: name, command run in the root, and a
# pattern of what counts as a finding in its log.
check_log() { # name, command, pattern
	local log=$LOGS/lint-$1.log hits
	step "$1"
	in_root "$2" >"$log" 2>&1 || echo "    failed (see $log)" >>"$log"
	hits=$(grep -E "$3" "$log" || true)
	if [ -n "$hits" ]; then
		echo "$hits" | head -n 40
		found=$((found + 1))
	else
		echo "    clean"
		passed=$((passed + 1))
	fi
}

run rustfmtcheck rustfmtcheck
run clippy "CLIPPY=1 vmlinux modules"
run rustdoc rustdoc
# Sphinx builds incrementally and repeats no warning for an unchanged page:
# start from an empty output directory (a few seconds for Documentation/rust).
check_log docs "rm -rf /build/out-docs && cd $KSRC && make O=/build/out-docs SPHINXDIRS=rust htmldocs &&
	test -s /build/out-docs/Documentation/output/rust/driver-core.html" \
	'driver-core\.rst.*(WARNING|ERROR)|^    failed|toctree'
bash "$TOP/scripts/patches.sh" >/dev/null
rm -rf "$ROOT/build/export" && mkdir -p "$ROOT/build/export" && cp "$TOP"/out/patches/*.patch "$ROOT/build/export/"
# A Traceback is checkpatch's SPDX check (scripts/spdxcheck.py) failing to run.
check_log checkpatch "cd $KSRC && perl scripts/checkpatch.pl --strict --color=never /build/export/*.patch" \
	'^(ERROR|WARNING|CHECK)|^    failed|Traceback'
echo "$passed $found" >"$LOGS/lint.counts"
echo "lint: $passed passed, $found failed"
[ "$found" -eq 0 ]
