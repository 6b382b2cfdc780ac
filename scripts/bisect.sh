#!/usr/bin/env bash
# Check that the exported series is bisectable: export it (scripts/patches.sh),
# then apply it onto the pristine base one commit at a time, with git am, in a
# scratch clone of the kernel tree ($ROOT/build/linux-bisect; the work tree of
# the other scripts is not touched), and build every step: x86_64, LLVM=1, the
# configuration of scripts/kunit.sh (configs/kunit.config and
# configs/x86_64.config on kunit.py's x86_64 fragment), vmlinux, bzImage and modules, in its own output directory
# (/build/out-bisect inside the root), incrementally from one step to the next.
#
# A step passes when git am applies the patch, the options of the
# configuration that the tree defines at that step have the requested values
# (the test suites and the sample appear only with their patches), make
# succeeds, and no compiler warning points into a file that the series adds or
# changes (or into the generated doctests).
#
# Prints "patch N/M <subject>: ok" or ": FAILED" per step, then
# "N passed, N failed"; exit status 0 when every step passed. Logs:
# $CACHE/logs/bisect.log (the summary) and $CACHE/logs/bisect-NN.log (the
# build of step NN).
. "$(dirname "$0")/lib.sh"

BSRC=/build/linux-bisect
BOUT=/build/out-bisect
LOGS=$CACHE/logs
FRAGMENTS=("$TOP/configs/kunit.config" "$TOP/configs/x86_64.config")
mkdir -p "$LOGS"
summary=$LOGS/bisect.log
rm -f "$LOGS"/bisect*.log
exec > >(tee "$summary") 2>&1
start=$SECONDS

bash "$TOP/scripts/patches.sh" >/dev/null
mapfile -t series < <(ls "$TOP"/out/patches/*.patch)
[ ${#series[@]} -gt 0 ] || die "the export produced no patch"

B=$ROOT$BSRC
GIT=(git -C "$B" -c user.name=drvcore -c user.email=drvcore@localhost -c core.hooksPath=/dev/null)
# The scratch clone shares the objects of the kernel tree, whose "base" it
# takes anew every time; it is made again if it lost its objects.
if [ -d "$B/.git" ] && ! "${GIT[@]}" fetch -q --force "$ROOT$KSRC" "refs/tags/base:refs/tags/base" 2>/dev/null; then
	rm -rf "$B"
fi
if [ ! -d "$B/.git" ]; then
	step "cloning the base into $B"
	git clone -q --shared --no-checkout "$ROOT$KSRC" "$B"
fi
"${GIT[@]}" am --abort >/dev/null 2>&1 || true
# Only what differs from the base is rewritten, so the build stays incremental.
"${GIT[@]}" checkout -q -f -B bisect base
"${GIT[@]}" clean -fdq

# The configuration as kunit.py makes it: the fragments and the x86_64 QEMU
# fragment, completed by olddefconfig.
mkdir -p "$ROOT$BOUT"
qemu_kconfig=$(grep -oE "CONFIG_[A-Za-z0-9_]+=[^',]+" "$B/tools/testing/kunit/qemu_configs/x86_64.py")
[ -n "$qemu_kconfig" ] || die "no kconfig in tools/testing/kunit/qemu_configs/x86_64.py"
configure() { # log
	{ cat "${FRAGMENTS[@]}"; echo "$qemu_kconfig"; } >"$ROOT$BOUT/.config"
	in_root "cd $BSRC && make ARCH=x86_64 LLVM=1 O=$BOUT olddefconfig" >>"$1" 2>&1 || return 1
	# Every option of the fragment that the tree defines must have its value.
	local defined bad=0 sym want have
	defined=$(cd "$B" && find . -name 'Kconfig*' -type f -print0 | xargs -0 sed -nE 's/^[[:space:]]*(menu)?config[[:space:]]+([A-Za-z0-9_]+).*/\2/p' | sort -u)
	while IFS= read -r want; do
		if [[ $want =~ ^CONFIG_([A-Za-z0-9_]+)= ]] || [[ $want =~ ^#\ CONFIG_([A-Za-z0-9_]+)\ is\ not\ set ]]; then
			sym=${BASH_REMATCH[1]}
		else
			continue
		fi
		grep -qxF "$sym" <<<"$defined" || continue
		have=$(grep -E "^(# )?CONFIG_$sym[= ]" "$ROOT$BOUT/.config" || echo "# CONFIG_$sym is not set")
		if [ "$want" != "$have" ]; then
			echo "config: wanted \"$want\", got \"$have\"" >>"$1"
			bad=1
		fi
	done < <(cat "${FRAGMENTS[@]}"; echo "$qemu_kconfig")
	return $bad
}

# The files the series adds or changes, and the generated doctests.
ours=$(grep -h '^diff --git a/' "${series[@]}" | sed 's|^diff --git a/\([^ ]*\) .*|\1|' | sort -u |
	grep -E '\.(rs|c|h)$' | sed 's/[.]/[.]/g' | paste -sd'|')
ours+='|doctests_kernel_generated[.]rs'
warnings() { # log: rustc's "--> file:line:col" and clang's "file:line:col: warning:"
	grep -E "^ *--> (\\S*/)?($ours):[0-9]+|(^|/)($ours):[0-9]+:[0-9]+: warning:" "$1" || true
}

passed=0 failed=0 n=0 m=${#series[@]}
for p in "${series[@]}"; do
	n=$((n + 1))
	subject=$(git mailinfo /dev/null /dev/null <"$p" | sed -n 's/^Subject: //p')
	log=$(printf '%s/bisect-%02d.log' "$LOGS" "$n")
	t=$SECONDS
	result=ok why=
	if ! "${GIT[@]}" am -q "$p" >"$log" 2>&1; then
		"${GIT[@]}" am --abort >/dev/null 2>&1 || true
		result=FAILED why="does not apply"
	elif ! configure "$log"; then
		result=FAILED why="configuration"
	elif ! in_root "cd $BSRC && make ARCH=x86_64 LLVM=1 O=$BOUT -j$JOBS all" >>"$log" 2>&1 ||
		[ ! -f "$ROOT$BOUT/arch/x86/boot/bzImage" ]; then
		result=FAILED why="build"
	elif [ -n "$(warnings "$log")" ]; then
		result=FAILED why="warnings"
	fi
	if [ $result = ok ]; then
		passed=$((passed + 1))
		printf 'patch %d/%d %s: ok (%d s)\n' "$n" "$m" "$subject" $((SECONDS - t))
	else
		failed=$((failed + 1))
		printf 'patch %d/%d %s: FAILED (%s, %d s, log: %s)\n' "$n" "$m" "$subject" "$why" $((SECONDS - t)) "$log"
		case $why in
		warnings) warnings "$log" | head -n 20 | sed 's/^/    /' ;;
		*) grep -E -A5 '^(error|config:)|[: ]error[: ]|^make.*Error' "$log" | head -n 40 | sed 's/^/    /' ;;
		esac
		# Nothing after a patch that does not apply can be checked.
		[ "$why" != "does not apply" ] || break
	fi
done
failed=$((failed + m - n))
printf 'bisect: series of %d patches checked in %d s\n' "$m" $((SECONDS - start))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
