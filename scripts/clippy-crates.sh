#!/usr/bin/env bash
# Run inside the root by lint.sh: clippy over the Rust crates of the build in
# KOUT whose source or dependencies name one of the files listed in OURS,
# without writing into the build. Each crate's command line as make saved it
# (the first line of its .cmd file) is run again with clippy-driver instead of
# rustc, with every output going into SCRATCH/<crate>/ and only metadata
# emitted: clippy's lints run before code generation, with the flags and lint
# levels of `make CLIPPY=1`. Prints clippy's diagnostics, then
# "N crate(s) checked".
#
# Then the guard: every Rust object of the build must still be rustc's (a
# `make CLIPPY=1` elsewhere leaves clippy-driver's objects, whose symbol
# names differ from those of the bzImage), and the sample's command line,
# which misuse.sh reads, must start with rustc. Exit status 1 on any failure.
#
#   clippy-crates.sh KOUT KSRC OURS SCRATCH
set -uo pipefail

kout=$1 ksrc=$2 ours=$3 scratch=$4
# The first line of a .cmd file: "savedcmd_<target> := [VAR=value ...] rustc ...".
rustc_line='^savedcmd_[^ ]+ := ([A-Za-z_]+=[^ ]* )*rustc '
cd "$kout" || exit 1

mapfile -t cmdfiles < <(find . -name '.*.o.cmd' -exec grep -lE \
	'^savedcmd_[^ ]+ := ([A-Za-z_]+=[^ ]* )*(rustc|clippy-driver) ' {} + | sort)
rc=0 m=0 n=0
for f in "${cmdfiles[@]}"; do
	grep -qF -f "$ours" "$f" || continue
	m=$((m + 1))
	line=$(head -n 1 "$f")
	# Not rustc's: the guard below reports it.
	grep -qE "$rustc_line" <<<"$line" || continue
	n=$((n + 1))
	crate=$(grep -oE ' --crate-name [^ ]+' <<<"$line" | cut -d' ' -f3)
	mkdir -p "$scratch/$crate"
	# Without the target and the tool run after it (objtool), the outputs,
	# and with clippy-driver for rustc.
	cmd=$(sed -E \
		-e 's/^savedcmd_[^ ]* := //' \
		-e 's/ *;.*$//' \
		-e 's/ --emit=[^ ]*//g' \
		-e 's/ --out-dir [^ ]*//' \
		-e 's/(^| )rustc /\1clippy-driver /' <<<"$line")
	echo "==> clippy-driver: ${f#./}"
	# make exports both to every command it runs.
	if ! eval "CLIPPY_CONF_DIR=$ksrc RUSTC_BOOTSTRAP=1 $cmd" \
		"--out-dir '$scratch/$crate' --emit=metadata='$scratch/$crate/lib$crate.rmeta'" 2>&1; then
		echo "error: clippy-driver failed on ${f#./}"
		rc=1
	fi
done
if [ $m -eq 0 ]; then
	echo "error: no Rust object in $kout is built from the project's files"
	rc=1
fi

for f in "${cmdfiles[@]}"; do
	if ! head -n 1 "$f" | grep -qE "$rustc_line"; then
		echo "error: ${f#./} was built by clippy-driver, not rustc (a clobbered build)"
		rc=1
	fi
done
f=samples/rust/.rust_driver_edu.o.cmd
if ! head -n 1 "$f" 2>/dev/null | grep -qE "$rustc_line"; then
	echo "error: $f does not start with a rustc command line"
	rc=1
fi
echo "$n crate(s) checked"
exit $rc
