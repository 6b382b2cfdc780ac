#!/usr/bin/env bash
# Build the kernel (with modules) for the KUnit configuration and run the
# KUnit suites, Rust doctests included, in QEMU (TCG, no KVM) with two edu
# devices and an e1000e (MSI-X, no driver in the test kernel) attached. The
# kernel is built once here; e2e.sh boots the same build.
#
#   scripts/kunit.sh               build, boot, report "kunit: N passed, N failed"
#   scripts/kunit.sh --build-only  only build the kernel and the modules
#   scripts/kunit.sh --debug       build and run the debug variant (KASAN,
#                                  lockdep, non-preemptible RCU:
#                                  configs/debug.config on top) in its own
#                                  build directory (x86_64 only)
#   scripts/kunit.sh --q35         boot the same kernel on QEMU's q35 (PCI
#                                  Express) with an edu, an NVMe controller
#                                  and an e1000e, and run only the suites of
#                                  Q35_SUITES there, none of whose cases may
#                                  skip (x86_64 only)
#
# The configuration is configs/kunit.config with the architecture's fragment
# (configs/x86_64.config) on top. DRVCORE_ARCH=arm64 builds and runs the same
# suites for arm64 (configs/arm64.config on top) in QEMU's virt machine with
# an SMMUv3, in its own build directory; the names of its logs and counts end
# in -arm64. A crashed test (an oops) panics the kernel, which ends the run at
# once (oops=panic panic=-1 and QEMU's -no-reboot): kunit.py then counts the
# tests that did not report, rather than waiting for a shutdown that a probe
# which died holding its device lock would hang.
#
# Besides kunit.py's results, the kernel log of the run counts as one test:
# the raw log ($KOUT/test.log, everything the kernel printed), not kunit.py's
# output, which shows kernel lines only for failing tests. It fails on any
# report of KERNEL_REPORTS (scripts/lib.sh): BUG:, WARNING:, Oops, Call Trace,
# KASAN:, UBSAN:, lockdep, RCU, atomic-sleep, DMA-API-debug, kmemleak and
# debug-objects reports, panics and hung tasks.
#
# Environment: KUNITCONFIG (path inside the root, default
# /build/config/kunit.config), KUNIT_TIMEOUT (seconds for the test run,
# default 600), Q35_SUITES (the suites of --q35, a kunit.py glob, default
# rust_pci_config), JOBS.
. "$(dirname "$0")/lib.sh"

mode=run
name=kunit$ARCH_SUFFIX
KUNITCONFIG=${KUNITCONFIG:-/build/config/kunit.config}
# The architecture's fragment on top, and the debug one on top of that.
extra_config=/build/config/$DRVCORE_ARCH.config
case ${1:-} in
"") ;;
--build-only) mode=build ;;
--debug)
	[ "$DRVCORE_ARCH" = x86_64 ] || die "the debug configuration is built for x86_64 only"
	name=kunit-debug
	KOUT=$KOUT-debug
	extra_config+=" /build/config/debug.config"
	# KASAN, lockdep, kmemleak and debug objects slow TCG down severalfold.
	KUNIT_TIMEOUT=${KUNIT_TIMEOUT:-1500}
	;;
--q35)
	[ "$DRVCORE_ARCH" = x86_64 ] || die "the q35 run is for x86_64 only"
	# The same kernel, booted on QEMU's PCI Express machine with an NVMe
	# controller, for the suites that need extended configuration space.
	name=kunit-q35
	mode=q35
	;;
*) die "usage: $0 [--build-only | --debug | --q35]" ;;
esac

KUNIT_TIMEOUT=${KUNIT_TIMEOUT:-600}
# The suites of the q35 run (a kunit.py filter glob).
Q35_SUITES=${Q35_SUITES:-rust_pci_config}
LOGS=$CACHE/logs
COUNTS=$LOGS/$name.counts
mkdir -p "$LOGS"

[ -d "$ROOT$KSRC" ] || die "no kernel tree at $ROOT$KSRC (run scripts/tree.sh)"
[ -f "$ROOT$KUNITCONFIG" ] || die "no kunitconfig at $ROOT$KUNITCONFIG (run scripts/tree.sh)"

# kunit.py arguments shared by "build" and "run". -accel tcg: never use KVM,
# even where /dev/kvm exists, so results do not depend on the host.
args="--arch=$DRVCORE_ARCH --build_dir=$KOUT --kunitconfig=$KUNITCONFIG"
for c in $extra_config; do
	args+=" --kunitconfig=$c"
	[ -f "$ROOT$c" ] || die "no configuration fragment at $ROOT$c (run scripts/tree.sh)"
done
args+=" --make_options LLVM=1 --jobs=$JOBS"

start=$SECONDS
if [ "$mode" = build ]; then
	log=$LOGS/build$ARCH_SUFFIX.log
	step "building the kernel and modules ($KUNITCONFIG, log: $log)"
	rc=0
	in_root "cd $KSRC && python3 -u tools/testing/kunit/kunit.py build $args" >"$log" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || [ ! -f "$ROOT$KOUT/$KIMAGE" ]; then
		tail -n 60 "$log"
		die "kernel build failed (see $log)"
	fi
	printf '    built in %d s\n' $((SECONDS - start))
	exit 0
fi

log=$LOGS/$name.log
# The raw kernel log, which kunit.py rewrites at every boot: removed first, so
# that a run that never boots cannot be judged by the log of an earlier one.
raw=$ROOT$KOUT/test.log
rm -f "$COUNTS" "$raw"
step "building the kernel and running KUnit in QEMU ($KUNITCONFIG, log: $log)"
devices="-device edu -device edu -device e1000e"
run_args=
if [ "$mode" = q35 ]; then
	KUNIT_MACHINE="-machine q35"
	devices="-device edu -device nvme,serial=drvcore -device e1000e"
	run_args="'$Q35_SUITES'"
fi
run_kunit() {
	rc=0
	in_root "cd $KSRC && python3 -u tools/testing/kunit/kunit.py run $args $run_args \
		--kernel_args=oops=panic --kernel_args=panic=-1 \
		--qemu_args='$KUNIT_MACHINE $devices -smp 2 -accel tcg' --timeout=$KUNIT_TIMEOUT" >"$log" 2>&1 || rc=$?
	printf '    kunit.py finished in %d s (exit status %d)\n' $((SECONDS - start)) $rc
}
# Whether the run hung because the emulator stopped delivering a CPU's timer
# interrupt: RCU finds that CPU's timers have not fired for thousands of
# jiffies while the CPU sits in the idle loop (the NMI backtrace finds it
# idling, running no task of anyone's), so every task waiting on a timer
# there (a msleep() in a test) waits for ever. Seen once in TCG, in a case
# that passed 30 times alone and every time before and since.
lost_timer() {
	grep -aq "kthread timer wakeup didn't happen" "$raw" &&
		grep -aqE '^NMI backtrace for cpu [0-9]+ skipped: idling at ' "$raw"
}
run_kunit
# Booted again once on that signature and nothing else; the first log is kept.
if [ $rc -ne 0 ] && lost_timer; then
	cp "$raw" "$LOGS/$name.lost-timer.log"
	echo "    the emulator stopped a CPU's timer (an idle CPU, no task on it; log: $LOGS/$name.lost-timer.log): booting once more"
	rm -f "$raw"
	run_kunit
fi

# The per-suite results: kunit.py closes every suite (and every
# parameterised test) with a "==== [STATUS] name ====" divider line.
sed -nE 's/^\[[0-9:]+\] =+ \[(PASSED|FAILED|SKIPPED|CRASHED)\] (.*[^ =]) =+$/    [\1] \2/p' "$log"

# The summary, e.g. "[12:34:56] Testing complete. Ran 115 tests: passed: 115"
# or "... Ran 9 tests: passed: 5, failed: 2, crashed: 1, skipped: 1, errors: 1".
summary=$(grep -E '^(\[[0-9:]+\] )?Testing complete\. Ran [0-9]+ tests' "$log" | tail -n 1 || true)
count() { sed -nE "s/.*[:,] $1: ([0-9]+).*/\1/p" <<<"$summary" | tail -n 1; }
passed=0 failed=0
if [ -n "$summary" ]; then
	passed=$(count passed) failed=$(count failed) crashed=$(count crashed)
	skipped=$(count skipped) errors=$(count errors)
	passed=${passed:-0}
	failed=$((${failed:-0} + ${crashed:-0} + ${errors:-0}))
	[ "${skipped:-0}" -eq 0 ] || printf '    %d test(s) skipped\n' "$skipped"
	# The q35 machine has every device its suites need.
	[ "$mode" != q35 ] || failed=$((failed + ${skipped:-0}))
	[ "${errors:-0}" -eq 0 ] || printf '    %d parse error(s) in the test output, counted as failed\n' "$errors"
fi
if [ -n "$summary" ] && [ "$failed" -gt 0 ]; then
	# kunit.py repeats the log of each failing test, its diagnostics
	# indented, before the test's "[FAILED]" or "[CRASHED]" line.
	echo "---- failing tests in $log ----"
	grep -E '^\[[0-9:]+\] (    |\[(FAILED|CRASHED)\] |=+ \[(FAILED|CRASHED)\] |Failures: )' "$log" || true
fi
if [ -z "$summary" ] || [ $rc -ne 0 ]; then
	[ -n "$summary" ] || echo "    no test summary in the kunit.py output"
	[ $rc -eq 0 ] || echo "    kunit.py exited with status $rc"
	[ "$failed" -gt 0 ] || failed=1
	echo "---- last 60 lines of $log ----"
	tail -n 60 "$log"
	echo "----"
fi
# The kernel log of the run, one test: a report anywhere in it fails, also in
# a test that kunit.py counts as passed (a WARN does not fail a KUnit case).
if [ -n "$summary" ]; then
	if reports=$(kernel_log_reports "$raw"); then
		echo "    kernel log: no report ($raw)"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "---- kernel reports in $raw ----"
		head -n 40 <<<"$reports"
		first=$(head -n 1 <<<"$reports" | cut -d: -f1)
		if [ "$first" -gt 0 ]; then
			echo "---- the log from the first report on ----"
			sed -n "$((first > 5 ? first - 5 : 1)),$((first + 40))p" "$raw"
		fi
		echo "----"
	fi
fi
# The kernel's own C io-pgtable selftests run at boot (subsys_initcall) in the
# same kernel when they are configured: each is one test.
if [ -n "$summary" ] && grep -q '^CONFIG_IOMMU_IO_PGTABLE_LPAE_SELFTEST=y' "$ROOT$KOUT/.config"; then
	lpae=$(grep -aoE 'arm-lpae io-pgtable: selftest: completed with [0-9]+ PASS [0-9]+ FAIL' "$raw" | tail -n 1 || true)
	printf '    C selftest: %s\n' "${lpae:-arm-lpae io-pgtable selftest did not report}"
	if [[ $lpae =~ with\ ([0-9]+)\ PASS\ 0\ FAIL ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
fi
if [ -n "$summary" ] && grep -q '^CONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST=y' "$ROOT$KOUT/.config"; then
	if grep -aq 'arm-v7s io-pgtable: self test ok' "$raw"; then
		echo "    C selftest: arm-v7s io-pgtable: self test ok"
		passed=$((passed + 1))
	else
		echo "    C selftest: arm-v7s io-pgtable selftest did not report success"
		failed=$((failed + 1))
	fi
fi
# The debug kernel runs non-preemptible RCU (configs/debug.config), one test.
# PREEMPT_RCU has no prompt: it follows from the preemption model, and an
# option that selects PREEMPTION (now or in a later tree) turns it back on.
# debug.config names it as not set, so that kunit.py refuses a .config that
# has it before building; this checks the .config the kernel was built from
# and, from the boot line, the kernel that ran.
if [ "$name" = kunit-debug ] && [ -f "$ROOT$KOUT/.config" ]; then
	cfg=$ROOT$KOUT/.config
	rcu=
	grep -qx 'CONFIG_TREE_RCU=y' "$cfg" || rcu+=" CONFIG_TREE_RCU is not y;"
	! grep -q '^CONFIG_PREEMPT_RCU=' "$cfg" || rcu+=" $(grep '^CONFIG_PREEMPT_RCU=' "$cfg");"
	! grep -q '^CONFIG_PREEMPT_DYNAMIC=' "$cfg" || rcu+=" $(grep '^CONFIG_PREEMPT_DYNAMIC=' "$cfg");"
	if [ -n "$summary" ] && ! grep -aq '^rcu: Hierarchical RCU implementation\.$' "$raw"; then
		rcu+=" the kernel did not boot with non-preemptible RCU ($(grep -aoEm1 '(Preemptible h|H)ierarchical RCU implementation\.' "$raw" || echo 'no RCU line'));"
	fi
	if [ -z "$rcu" ]; then
		echo "    debug config: non-preemptible RCU (CONFIG_TREE_RCU=y, no CONFIG_PREEMPT_RCU)"
		passed=$((passed + 1))
	else
		echo "    FAILED: the debug kernel must run non-preemptible RCU (configs/debug.config):$rcu"
		echo "    (see $cfg and the kernel log $raw)"
		failed=$((failed + 1))
	fi
fi
echo "$passed $failed" >"$COUNTS"
echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
