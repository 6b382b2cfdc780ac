#!/usr/bin/env bash
# The compile-fail catalogue: compiles each case in tests/misuse/ against the built kernel crate
# with the rustc flags the kernel uses for a sample module (read from the build at run time), and
# checks that every misuse is refused with the error its header names and with nothing else, and
# that every control (`// expect: ok`) compiles. Prints one line per case and then
# "misuse: N passed, N failed", writes "N M" (passed, failed) to $CACHE/logs/misuse.counts and
# exits 1 if anything failed.
#
# A case starts with a header of comment lines:
#
#     // SPDX-License-Identifier: GPL-2.0
#     //! What the case shows.
#     // expect: E0521
#     // expect-message: <text that must appear in the compiler output>   (optional, repeatable)
#
# `expect:` lists one or more rustc error codes, or `uncoded` for an error that rustc reports
# without a code (such as "lifetime may not live long enough"), or is `ok` alone. A misuse passes
# only if it fails to compile, every listed code appears, no error with another code (or without
# a code, unless `uncoded` is listed) appears, and every expect-message is found. An object file
# is emitted, so post-monomorphization errors (failed inline-const assertions, E0080) count too.
. "$(dirname "$0")/lib.sh"

CASES=$TOP/tests/misuse
LOGS=$CACHE/logs
COUNTS=$LOGS/misuse.counts
CMDFILE=$KOUT/samples/rust/.rust_driver_edu.o.cmd
CASE_TIMEOUT=120

mkdir -p "$LOGS"
rm -f "$COUNTS"

# Reports that nothing could be compiled: one failure.
no_build() { # reason
	echo "FAIL  (setup): $1"
	echo "misuse: 0 passed, 1 failed"
	echo "0 1" >"$COUNTS"
	exit 1
}

[ -f "$ROOT$KOUT/rust/libkernel.rmeta" ] || no_build "no kernel build ($KOUT/rust/libkernel.rmeta is missing)"
[ -f "$ROOT$CMDFILE" ] || no_build "no kernel build ($CMDFILE is missing)"

# The sample's command line, minus objtool, with the crate name, outputs and source left out
# for each case to fill in.
rustc_cmd=$(head -n1 "$ROOT$CMDFILE" | sed -E \
	-e 's/^savedcmd_[^ ]* := //' \
	-e 's/ ; .*$//' \
	-e 's/(^| )RUST_MODFILE=[^ ]* */\1/' \
	-e 's/ --crate-name [^ ]*//' \
	-e 's/ --out-dir [^ ]*//' \
	-e 's/ --emit=[^ ]*//g' \
	-e 's/ [^ ]*\.rs *$//')
case $rustc_cmd in
rustc\ *--extern\ kernel*) ;;
*) no_build "can not read the rustc command line from $CMDFILE" ;;
esac

mapfile -t files < <(find "$CASES" -maxdepth 1 -name '*.rs' | sort)
[ ${#files[@]} -gt 0 ] || die "no cases in $CASES"

mkdir -p "$ROOT/tmp"
tmp=$(mktemp -d "$ROOT/tmp/misuse.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
itmp=/tmp/${tmp##*/}
cp "${files[@]}" "$tmp/"
printf '%s\n' "$rustc_cmd" >"$tmp/rustc.cmd"

# Compiles every case in one visit to the root; leaves NAME.out and NAME.rc beside the case.
cat >"$tmp/run.sh" <<'EOF'
dir=$1 limit=$2 kout=$3
cmd=$(cat "$dir/rustc.cmd")
cd "$kout" || exit 1
for src in "$dir"/*.rs; do
	name=$(basename "$src" .rs)
	crate=misuse_${name//[^A-Za-z0-9_]/_}
	mkdir -p "$dir/obj/$name"
	rc=0
	eval "RUSTC_BOOTSTRAP=1 RUST_MODFILE=tests/misuse/$name timeout $limit $cmd" \
		"--crate-name $crate --out-dir '$dir/obj/$name'" \
		"--emit=obj='$dir/obj/$name/$name.o' '$src'" >"$dir/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$dir/$name.rc"
done
EOF
in_root "bash $itmp/run.sh $itmp $CASE_TIMEOUT $KOUT" || die "could not run rustc in the root"

passed=0 failed=0

# Prints a failure with its reason and the compiler output.
fail() { # name, reason, output file
	failed=$((failed + 1))
	printf 'FAIL  %s: %s\n' "$1" "$2"
	sed -e "s|$itmp/obj/[^/]*/||g" -e "s|$itmp/|tests/misuse/|g" -e 's/^/      | /' "$3"
}

for f in "${files[@]}"; do
	name=$(basename "$f" .rs)
	out=$tmp/$name.out
	rc=$(cat "$tmp/$name.rc" 2>/dev/null || echo missing)

	# The header: the comment lines at the top of the file.
	header=$(sed -n '/^\/\//!q;p' "$f")
	expect=$(sed -n 's|^// expect: *||p' <<<"$header" | head -n1)
	mapfile -t messages < <(sed -n 's|^// expect-message: *||p' <<<"$header")
	read -ra want <<<"$expect"

	if [ ${#want[@]} -eq 0 ]; then
		fail "$name" "no '// expect:' line in the header" /dev/null
		continue
	fi
	bad=
	for w in "${want[@]}"; do
		[[ $w =~ ^(E[0-9]{4}|uncoded|ok)$ ]] || bad="bad expectation '$w'"
	done
	if [ "${want[*]}" != ok ] && [[ " ${want[*]} " == *" ok "* ]]; then
		bad="'ok' must stand alone"
	fi
	if [ -n "$bad" ]; then
		fail "$name" "$bad" /dev/null
		continue
	fi

	if [ "${want[*]}" = ok ]; then
		if [ "$rc" = 0 ]; then
			passed=$((passed + 1))
			printf 'ok    %s (compiles)\n' "$name"
		else
			fail "$name" "a control that does not compile (rustc exit $rc)" "$out"
		fi
		continue
	fi

	case $rc in
	0)
		fail "$name" "compiles, expected ${want[*]}" "$out"
		continue
		;;
	1) ;;
	124)
		fail "$name" "rustc timed out after ${CASE_TIMEOUT}s" "$out"
		continue
		;;
	*)
		fail "$name" "rustc exited with $rc (crash?)" "$out"
		continue
		;;
	esac

	# Every error, by code; errors without one are 'uncoded'. The closing summary is no error.
	mapfile -t got < <({
		grep -oE '^error\[E[0-9]{4}\]' "$out" | sed -E 's/^error\[(E[0-9]{4})\]/\1/' || true
		grep -E '^error: ' "$out" | grep -vE '^error: aborting due to' | sed 's/.*/uncoded/' || true
	} | sort -u)

	reason=
	if grep -q "can't find crate for \`kernel\`" "$out"; then
		reason="the kernel crate does not load (is a build running?)"
	fi
	for w in "${want[@]}"; do
		[ -z "$reason" ] || break
		if ! printf '%s\n' "${got[@]}" | grep -qx "$w"; then
			reason="expected $w, got ${got[*]:-no error}"
			break
		fi
	done
	if [ -z "$reason" ]; then
		for g in "${got[@]}"; do
			if [[ " ${want[*]} " != *" $g "* ]]; then
				reason="unexpected $g besides ${want[*]}"
				break
			fi
		done
	fi
	if [ -z "$reason" ]; then
		for m in "${messages[@]}"; do
			if ! grep -qF -- "$m" "$out"; then
				reason="'$m' not in the compiler output"
				break
			fi
		done
	fi

	if [ -n "$reason" ]; then
		fail "$name" "$reason" "$out"
	else
		passed=$((passed + 1))
		printf 'ok    %s (%s)\n' "$name" "${want[*]}"
	fi
done

echo "misuse: $passed passed, $failed failed"
echo "$passed $failed" >"$COUNTS"
[ "$failed" -eq 0 ]
