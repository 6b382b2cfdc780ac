#!/usr/bin/env bash
# End-to-end test of the sample driver: boot the kernel built by kunit.sh in
# QEMU (TCG, no KVM) with the edu device and an initramfs whose /init
# (tests/e2e/init) loads the module, unbinds and rebinds the device and
# unloads the module. The serial log is then checked: no kernel report (the
# scanner of lib.sh), no failed step, the final marker, and every line of
# tests/e2e/expected, of tests/e2e/expected-msi (the interrupts came by MSI)
# and, for arm64 (DRVCORE_ARCH=arm64: virt with an SMMUv3 and a GICv3 ITS,
# scripts/lib.sh), of tests/e2e/expected-arm64 too. Each check is one test;
# prints "e2e: N passed, N failed" (e2e-arm64 for arm64; $E2E_NAME).
#
# Environment: E2E_MODULE (default rust_driver_edu), E2E_DRIVER (default
# rust_driver_edu), E2E_BIND (required|optional, see below), E2E_KO (the .ko
# to load, as a path inside the root; default
# $KOUT/samples/rust/$E2E_MODULE.ko, the in-tree build; its file name must be
# $E2E_MODULE.ko, as /init checks that module; /init loads it by the edu
# device's modalias from /lib/modules/<release>/extra), E2E_EXPECTED
# (checks file, default tests/e2e/expected), E2E_EXTRA (further checks files,
# see below), E2E_APPEND (added to the kernel command line, for instance
# pci=nomsi), E2E_TIMEOUT (seconds, default
# 300), E2E_NAME (default e2e, or e2e-arm64: the name of the log
# $CACHE/logs/$E2E_NAME.log, of its counts file and of the work directory
# /build/$E2E_NAME in the root,
# so that another run, such as bench.sh's run of the C twin, leaves those of
# the default run alone).
. "$(dirname "$0")/lib.sh"

E2E_MODULE=${E2E_MODULE:-rust_driver_edu}
E2E_DRIVER=${E2E_DRIVER:-rust_driver_edu}
E2E_EXPECTED=${E2E_EXPECTED:-$TOP/tests/e2e/expected}
E2E_TIMEOUT=${E2E_TIMEOUT:-300}
E2E_NAME=${E2E_NAME:-e2e$ARCH_SUFFIX}
# Further checks files, on top of E2E_EXPECTED: by default, when the default
# checks run, tests/e2e/expected-msi (the sample takes its interrupts by MSI)
# and the architecture's own (tests/e2e/expected-arm64), if they exist.
if [ -z "${E2E_EXTRA+set}" ]; then
	E2E_EXTRA=
	if [ "$E2E_EXPECTED" = "$TOP/tests/e2e/expected" ]; then
		E2E_EXTRA=$TOP/tests/e2e/expected-msi
		[ ! -f "$TOP/tests/e2e/expected$ARCH_SUFFIX" ] || [ -z "$ARCH_SUFFIX" ] ||
			E2E_EXTRA+=" $TOP/tests/e2e/expected$ARCH_SUFFIX"
	fi
fi
E2E_APPEND=${E2E_APPEND:-}
[[ $E2E_NAME =~ ^[A-Za-z0-9_.-]+$ ]] || die "E2E_NAME must be a plain file name"
# The project's own sample must register its driver; any other module (for
# trying the harness on another sample) may skip the unbind/bind steps.
# E2E_BIND=required|optional overrides.
bind=optional
[ "$E2E_MODULE" != rust_driver_edu ] || bind=required
bind=${E2E_BIND:-$bind}
case $bind in required | optional) ;; *) die "E2E_BIND must be 'required' or 'optional'" ;; esac

LOGS=$CACHE/logs
LOG=$LOGS/$E2E_NAME.log
COUNTS=$LOGS/$E2E_NAME.counts
WORK=/build/$E2E_NAME # inside the root
KERNEL=$KOUT/$KIMAGE
MODULE_KO=${E2E_KO:-$KOUT/samples/rust/$E2E_MODULE.ko}
mkdir -p "$LOGS"
rm -f "$COUNTS" "$LOG"

not_run() {
	echo "    $*"
	echo "0 1" >"$COUNTS"
	echo "$E2E_NAME: 0 passed, 1 failed"
	exit 1
}
[ -f "$ROOT$KERNEL" ] || not_run "no kernel at $ROOT$KERNEL (run scripts/kunit.sh first)"
if [ -z "${E2E_KO:-}" ]; then
	[ -f "$ROOT$MODULE_KO" ] || not_run "no module at $ROOT$MODULE_KO (is it enabled in the kunitconfig?)"
else
	[ -f "$ROOT$MODULE_KO" ] || not_run "no module at $ROOT$MODULE_KO (E2E_KO)"
fi
[ "$(basename "$MODULE_KO")" = "$E2E_MODULE.ko" ] ||
	not_run "E2E_KO ($MODULE_KO) is not named $E2E_MODULE.ko"
[ -f "$E2E_EXPECTED" ] || not_run "no checks file $E2E_EXPECTED"

# The module is installed as a distribution installs it, under
# /lib/modules/<release>/extra with depmod's index, and /init loads it only
# by the edu device's modalias: the aliases that modpost wrote into the
# module from its id table (MODULE_DEVICE_TABLE in C,
# kernel::module_device_table! in Rust) must name the device.
KREL=$(cat "$ROOT$KOUT/include/config/kernel.release" 2>/dev/null) ||
	not_run "no kernel release in $ROOT$KOUT/include/config/kernel.release"
step "building the initramfs ($MODULE_KO, installed for $KREL)"
echo "    aliases of the module:"
in_root "modinfo -F alias $MODULE_KO" | sed 's/^/        alias: /' ||
	not_run "modinfo failed on $MODULE_KO"
INITRAMFS_KREL=$KREL make_initramfs "$WORK" "$TOP/tests/e2e/init" "$MODULE_KO" ||
	not_run "could not build the initramfs"

step "booting in QEMU (TCG, timeout ${E2E_TIMEOUT} s, log: $LOG)"
append="console=$CONSOLE kunit.enable=0 oops=panic panic=-1 loglevel=7"
append+=" e2e.module=$E2E_MODULE e2e.driver=$E2E_DRIVER e2e.bind=$bind"
[ -z "$E2E_APPEND" ] || append+=" $E2E_APPEND"
start=$SECONDS
rc=0
boot_qemu "$WORK" "$E2E_TIMEOUT" "$LOG" -m 1024 -device edu -kernel "$KERNEL" \
	-initrd "$WORK/initramfs.cpio.gz" -append "'$append'" || rc=$?
elapsed=$((SECONDS - start))
printf '    QEMU ended after %d s (exit status %d)\n' "$elapsed" "$rc"

# The checks.
passed=0 failed=0 failures=()
absent() { ! grep -qE -- "$1" "$LOG"; }
no_timeout() { [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; }
at_least() { [ "$(grep -cE -- "$2" "$LOG")" -ge "$1" ]; }

check "QEMU powered off within the ${E2E_TIMEOUT} s timeout (exit status $rc)" no_timeout
check "init finished: a line 'E2E-DONE'" at_least 1 'E2E-DONE'
check "no failed step: no line 'E2E: ... FAILED'" absent 'E2E: .* FAILED'
no_report() {
	local reports
	reports=$(kernel_log_reports "$LOG") && return
	head -n 20 <<<"$reports" | sed 's/^/    report: /'
	return 1
}
check "no kernel report (BUG, WARNING, Oops, call trace, ...: KERNEL_REPORTS)" no_report
# The id table's entry, as file2alias writes it (upper-case hex, any
# subsystem, class and interface).
check "the module carries the alias of its id table (pci:v00001234d000011E8sv*sd*bc*sc*i*)" \
	grep -qxF 'pci:v00001234d000011E8sv*sd*bc*sc*i*' <(in_root "modinfo -F alias $MODULE_KO")
for f in "$E2E_EXPECTED" $E2E_EXTRA; do
	[ -f "$f" ] || { check "checks file $f exists" false; continue; }
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in '' | '#'*) continue ;; esac
		if [[ $line =~ ^([0-9]+)$'\t'(.+)$ ]]; then
			want=${BASH_REMATCH[1]} re=${BASH_REMATCH[2]}
			got=$(grep -cE -- "$re" "$LOG" || true)
			check "at least $want line(s) matching /$re/ (found $got)" [ "$got" -ge "$want" ]
		else
			check "$(basename "$f"):$n: malformed check (want COUNT<TAB>REGEX)" false
		fi
	done <"$f"
done

grep -E '^E2E' "$LOG" | sed 's/^/    /' || true
echo "$passed $failed" >"$COUNTS"
if [ "$failed" -gt 0 ]; then
	echo "---- last 200 lines of $LOG ----"
	tail -n 200 "$LOG"
	echo "---- failed checks ----"
	printf '    %s\n' "${failures[@]}"
fi
echo "$E2E_NAME: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
