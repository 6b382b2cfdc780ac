#!/usr/bin/env bash
# Lints on the current build (/build/out, made by `make build` or `make check`):
# rustfmt over the tree's Rust files, clippy over the crates that hold this
# project's files (the kernel crate, its generated doctests, the sample) run
# beside the build so that the build stays as it was (see clippy_crates),
# rustdoc, the Sphinx build of Documentation/rust (our guide must raise no
# warning), and checkpatch --strict over the exported patch series (no error,
# warning or check at all). Prints the findings that concern this project's
# files; each lint counts as one test ("lint: N passed, N failed", also
# written to $CACHE/logs/lint.counts); exit status 0 when there are none.
. "$(dirname "$0")/lib.sh"

LOGS=$CACHE/logs
mkdir -p "$LOGS"
[ -f "$ROOT$KOUT/.config" ] || die "no build in $ROOT$KOUT (run make build first)"
bash "$TOP/scripts/tree.sh" >/dev/null
mapfile -t ours < <(cd "$TOP" && git ls-files --cached --others --exclude-standard 'rust/*.rs' 'samples/*.rs')
# Our files (new ones too, before they are committed), and the generated
# doctests (the examples in our docs end up there).
pattern=$(printf '%s\n' "${ours[@]}" doctests_kernel_generated.rs | sed 's/[.]/[.]/g' | paste -sd'|')
found=0 passed=0
rm -f "$LOGS/lint.counts"

# The make options of kunit.py's build (ARCH=x86_64 too: with another ARCH,
# make runs syncconfig again).
MAKE_OPTS="ARCH=x86_64 LLVM=1 O=$KOUT -j$JOBS"

run() { # name, make arguments
	local log=$LOGS/lint-$1.log
	step "$1"
	local hits ok=1
	in_root "cd $KSRC && make $MAKE_OPTS $2" >"$log" 2>&1 || ok=0
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

# clippy without touching the build. `make CLIPPY=1` rebuilds the Rust
# objects in the build with clippy-driver, whose symbol names differ from
# rustc's: vmlinux and the modules then no longer match the bzImage (insmod
# reports "Unknown symbol" for kernel-crate functions), and misuse.sh finds no
# rustc command line for the sample. scripts/clippy-crates.sh instead runs
# the saved command line of each crate that holds our files again with
# clippy-driver, into a scratch directory, and then checks that the build's
# Rust objects are still rustc's. The build is first brought up to date with
# kunit.py's target (nothing to do on a current build), so that those command
# lines and the crates they read are the sources' in the tree.
clippy_crates() {
	local log=$LOGS/lint-clippy.log hits ok=1 dir
	step clippy
	in_root "cd $KSRC && make $MAKE_OPTS all" >"$log" 2>&1 || ok=0
	if [ $ok = 1 ]; then
		mkdir -p "$ROOT/tmp"
		dir=$(mktemp -d "$ROOT/tmp/clippy.XXXXXX")
		cp "$TOP/scripts/clippy-crates.sh" "$dir/"
		printf '%s\n' "${ours[@]/#/$KSRC/}" >"$dir/ours"
		echo rust/doctests_kernel_generated.rs >>"$dir/ours"
		dir=/tmp/${dir##*/}
		in_root "bash $dir/clippy-crates.sh $KOUT $KSRC $dir/ours $dir/out" >>"$log" 2>&1 || ok=0
		rm -rf "$ROOT$dir"
	fi
	hits=$(grep -E -A8 '^(warning|error)' "$log" | grep -E -B3 -A5 "($pattern)" || true)
	[ $ok = 1 ] || hits+=$'\n'"    failed (see $log):"$'\n'"$(grep -E -A6 '^error|\*\*\*' "$log" | head -n 40)"
	if [ -n "$hits" ]; then
		echo "$hits" | head -n 80
		found=$((found + 1))
	else
		echo "    clean ($(tail -n 1 "$log"))"
		passed=$((passed + 1))
	fi
}

run rustfmtcheck rustfmtcheck
clippy_crates
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
