#!/usr/bin/env bash
# Stress run on the debug kernel (configs/debug.config: KASAN, lockdep, RCU and
# atomic-sleep checks, kmemleak, debug objects, DMA-API debug, fault
# injection). Builds tests/stress/rust_stress.rs as an external module against
# the debug build (/build/out-debug, made by check-debug.sh), boots that
# kernel in QEMU (TCG, two CPUs, two edu devices) with an initramfs whose
# /init (tests/stress/init) exercises the edu sample through sysfs, then loads
# rust_stress, whose init runs unbind/bind cycles with accessor threads racing
# the revocation and probe attempts under allocation-fault injection. The
# serial log is then checked: the summary line and its counts, and no KASAN,
# lockdep, RCU, DMA-API, kmemleak, debug-objects or other kernel report. The
# allocation-failure reports that injected page-allocation failures print
# ("page allocation failure:" and its call trace) are skipped and counted.
# Each check is one test; prints "stress: N passed, N failed" and writes
# "P F" to $CACHE/logs/stress.counts and the log to $CACHE/logs/stress.log.
#
# Environment: STRESS_CYCLES (unbind/bind cycles, default 10000),
# STRESS_FAULT_PROBES (probes under fault injection, default 1000),
# STRESS_SAMPLE_CYCLES (sysfs unbind/bind cycles of the sample, default 200),
# STRESS_TIMEOUT (seconds, default 5400), STRESS_SRC (directory with
# rust_stress.rs and Kbuild, default tests/stress), STRESS_RCU_EXPEDITED
# (1: boot with rcupdate.rcu_expedited=1, so that every synchronize_rcu() of
# a revocation is an expedited grace period and a cycle takes less time;
# default 0).
. "$(dirname "$0")/lib.sh"

STRESS_CYCLES=${STRESS_CYCLES:-10000}
STRESS_FAULT_PROBES=${STRESS_FAULT_PROBES:-1000}
STRESS_SAMPLE_CYCLES=${STRESS_SAMPLE_CYCLES:-200}
STRESS_TIMEOUT=${STRESS_TIMEOUT:-5400}
STRESS_SRC=${STRESS_SRC:-$TOP/tests/stress}
STRESS_RCU_EXPEDITED=${STRESS_RCU_EXPEDITED:-0}
for v in STRESS_CYCLES STRESS_FAULT_PROBES STRESS_SAMPLE_CYCLES STRESS_TIMEOUT STRESS_RCU_EXPEDITED; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done

KOUT_DEBUG=/build/out-debug # inside the root
MOD=/build/stress           # module sources and build, inside the root
WORK=/build/stress-run      # initramfs and QEMU pid file, inside the root
KERNEL=$KOUT_DEBUG/arch/x86/boot/bzImage
SAMPLE_KO=$KOUT_DEBUG/samples/rust/rust_driver_edu.ko
LOGS=$CACHE/logs
LOG=$LOGS/stress.log
COUNTS=$LOGS/stress.counts
mkdir -p "$LOGS"
rm -f "$COUNTS" "$LOG"

not_run() {
	echo "    $*"
	echo "0 1" >"$COUNTS"
	echo "stress: 0 passed, 1 failed"
	exit 1
}
[ -f "$ROOT$KERNEL" ] || not_run "no debug kernel at $ROOT$KERNEL (run scripts/check-debug.sh first)"
[ -f "$ROOT$SAMPLE_KO" ] || not_run "no sample module at $ROOT$SAMPLE_KO"
[ -f "$STRESS_SRC/rust_stress.rs" ] && [ -f "$STRESS_SRC/rust_sleep_report.rs" ] &&
	[ -f "$STRESS_SRC/Kbuild" ] ||
	not_run "no rust_stress.rs, rust_sleep_report.rs and Kbuild in $STRESS_SRC"

step "building rust_stress.ko against $KOUT_DEBUG"
rm -rf "$ROOT$MOD"
mkdir -p "$ROOT$MOD"
cp "$STRESS_SRC/rust_stress.rs" "$STRESS_SRC/rust_sleep_report.rs" "$STRESS_SRC/Kbuild" "$ROOT$MOD/"
in_root "make -s -C $KSRC O=$KOUT_DEBUG LLVM=1 -j$JOBS M=$MOD modules" ||
	not_run "could not build rust_stress.ko"

step "building the initramfs"
make_initramfs "$WORK" "$TOP/tests/stress/init" "$MOD/rust_stress.ko" "$MOD/rust_sleep_report.ko" \
	"$SAMPLE_KO" ||
	not_run "could not build the initramfs"

step "booting the debug kernel in QEMU (TCG, timeout ${STRESS_TIMEOUT} s, log: $LOG)"
echo "    cycles=$STRESS_CYCLES fault_probes=$STRESS_FAULT_PROBES sample_cycles=$STRESS_SAMPLE_CYCLES rcu_expedited=$STRESS_RCU_EXPEDITED"
# acpi=noirq: the legacy interrupt of a PCI device is routed through ACPI's
# _PRT method at every enable and disable, and the ACPI interpreter, under
# KASAN, kmemleak and debug objects in TCG, takes 3.5 s for each: 7 of the
# 7.5 s of an unbind/bind cycle. Neither the stress module nor the sample uses
# that interrupt.
append="console=ttyS0 kunit.enable=0 panic=-1 loglevel=7 printk.time=1 acpi=noirq"
append+=" stress.cycles=$STRESS_CYCLES stress.fault_probes=$STRESS_FAULT_PROBES"
append+=" stress.sample_cycles=$STRESS_SAMPLE_CYCLES"
[ "$STRESS_RCU_EXPEDITED" = 0 ] || append+=" rcupdate.rcu_expedited=1"
start=$SECONDS
rc=0
boot_qemu "$WORK" "$STRESS_TIMEOUT" "$LOG" -smp 2 -m 2048 -device edu -device edu \
	-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "'$append'" || rc=$?
elapsed=$((SECONDS - start))
printf '    QEMU ended after %d s (exit status %d)\n' "$elapsed" "$rc"

# The log without the reports of injected page-allocation failures: each
# starts with "<task>: page allocation failure: order:N, mode:..." and ends
# with the "</TASK>" line closing its call trace (the memory summary after
# it holds no report keyword). Counted separately. So is the one warning
# the core kernel itself gives when an injected slab failure hits the
# GFP_NOWAIT allocation in va_clip() while ioremap() (a BAR mapping) finds a
# virtual area: the WARN_ON_ONCE in va_alloc() (mm/vmalloc.c), after which
# the mapping fails cleanly with ENOMEM. Only a block whose WARNING line names
# mm/vmalloc.c and alloc_vmap_area goes, up to its "end trace" line. The
# harmless lines of every boot go too (kernel_log_filter, scripts/lib.sh).
FILTERED=$LOGS/stress.filtered.log
awk -v counts="$LOGS/stress.allocfail" -v vcounts="$LOGS/stress.vmapwarn" '
	/page allocation failure: order:/ { inblock = 1; n++; lines = 0; next }
	inblock { lines++; if ($0 ~ /<\/TASK>/ || lines > 200) inblock = 0; next }
	/WARNING: CPU: [0-9]+ PID: [0-9]+ at mm\/vmalloc\.c:[0-9]+ alloc_vmap_area/ { invmap = 1; v++; lines = 0; next }
	invmap { lines++; if ($0 ~ /---\[ end trace/ || lines > 200) invmap = 0; next }
	{ print }
	END { print n + 0 > counts; print v + 0 > vcounts }
' "$LOG" >"$FILTERED.tmp"
kernel_log_filter "$FILTERED.tmp" >"$FILTERED"
rm -f "$FILTERED.tmp"
# The reports that rust_sleep_report causes on purpose (between its markers)
# are checked on their own, and taken out of the log the other checks scan.
SLEEPLOG=$LOGS/stress.sleep.log
: >"$SLEEPLOG"
awk -v out="$SLEEPLOG" '
	/SLEEP-REPORT: begin/ { w = 1 }
	w { print > out; if ($0 ~ /SLEEP-REPORT: end/) w = 0; next }
	{ print }
' "$FILTERED" >"$FILTERED.tmp"
mv "$FILTERED.tmp" "$FILTERED"
alloc_failures=$(cat "$LOGS/stress.allocfail")
vmap_warnings=$(cat "$LOGS/stress.vmapwarn")
rm -f "$LOGS/stress.allocfail" "$LOGS/stress.vmapwarn"

# The checks.
passed=0 failed=0 failures=()
count() { grep -cE -- "$1" "$FILTERED" || true; }
no_timeout() { [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; }
# The value of key $1 in the summary line, or nothing.
summary=$(grep -oE 'STRESS: cycles=.*' "$LOG" | tail -n 1 || true)
field() { sed -nE "s/.*[ :]$1=([0-9]+).*/\\1/p" <<<"$summary"; }
sample=$(grep -oE 'STRESS-SAMPLE: cycles=[0-9]+ ok=[0-9]+' "$LOG" | tail -n 1 || true)
sample_ok=$(sed -nE 's/.* ok=([0-9]+)/\1/p' <<<"$sample")
kmemleak=$(sed -nE 's/.*STRESS-KMEMLEAK: ([0-9]+).*/\1/p' "$LOG" | tail -n 1)
ge() { [ -n "$1" ] && [ "$1" -ge "$2" ]; }
eq() { [ -n "$1" ] && [ "$1" -eq "$2" ]; }

cyc=$(field cycles) faults=$(field fault_probes)
fp_failed=$(field failed) fp_succeeded=$(field succeeded)
leaked=$(field leaked) errors=$(field errors)
accesses=$(field accesses) revoked=$(field revoked_seen)

check "QEMU powered off within the ${STRESS_TIMEOUT} s timeout (exit status $rc)" no_timeout
check "init finished: 'STRESS-INIT-DONE'" grep -q 'STRESS-INIT-DONE' "$LOG"
check "no failed init step ('STRESS-INIT: ... FAILED')" eval '! grep -q "STRESS-INIT: .* FAILED" "$LOG"'
check "module finished: 'STRESS-DONE ok'" grep -q 'STRESS-DONE ok' "$LOG"
check "summary line 'STRESS: cycles=...' present" test -n "$summary"
check "sample: $STRESS_SAMPLE_CYCLES sysfs unbind/bind cycles (ok=${sample_ok:-none})" \
	eq "$sample_ok" "$STRESS_SAMPLE_CYCLES"
check "stress: $STRESS_CYCLES unbind/bind cycles (cycles=${cyc:-none})" eq "$cyc" "$STRESS_CYCLES"
check "stress: no cycle, probe or access error (errors=${errors:-none})" eq "$errors" 0
check "stress: accesses raced revocation (accesses=${accesses:-none} revoked_seen=${revoked:-none})" \
	eval 'ge "$accesses" 1 && { [ "$STRESS_CYCLES" -lt 100 ] || ge "$revoked" 1; }'
check "stress: $STRESS_FAULT_PROBES probes under fault injection (fault_probes=${faults:-none})" \
	eq "$faults" "$STRESS_FAULT_PROBES"
check "stress: probes under fault injection both failed and succeeded (failed=${fp_failed:-none} succeeded=${fp_succeeded:-none})" \
	eval '[ "$STRESS_FAULT_PROBES" -lt 100 ] || { ge "$fp_failed" 1 && ge "$fp_succeeded" 1; }'
check "stress: nothing leaked (leaked=${leaked:-none})" eq "$leaked" 0
check "kmemleak: scan ran and reported no object (STRESS-KMEMLEAK: ${kmemleak:-none})" eq "$kmemleak" 0
sleep_reports=$(grep -cE 'BUG: sleeping function called from invalid context at .*revocable\.rs:[0-9]+' "$SLEEPLOG" || true)
check "a call that may sleep under a guard, and one after a leaked guard, were both reported (revocable.rs: $sleep_reports)" \
	eval 'grep -q "SLEEP-REPORT: end" "$SLEEPLOG" && [ "$sleep_reports" -ge 2 ]'
irq_sleep_reports=$(grep -cE 'BUG: sleeping function called from invalid context at .*dma/streaming\.rs:[0-9]+' "$SLEEPLOG" || true)
check "a call that may sleep in a hard interrupt handler was reported (dma/streaming.rs: $irq_sleep_reports)" \
	eval 'grep -q "SLEEP-REPORT: the handler ran [1-9]" "$SLEEPLOG" && [ "$irq_sleep_reports" -ge 1 ]'
check "kmemleak stayed enabled" eval '[ "$(count "kmemleak: .*(disabled|Memory pool empty)")" -eq 0 ]'

# Kernel reports (KERNEL_REPORTS, scripts/lib.sh, shared with kunit.sh's
# kernel-log check), outside the injected allocation-failure blocks.
reports=("${KERNEL_REPORTS[@]}")
declare -A report_count
for r in "${reports[@]}"; do
	name=${r%%|*} re=${r#*|}
	n=$(count "$re")
	report_count[$name]=$n
	check "no $name report (/$re/: $n)" [ "$n" -eq 0 ]
done

echo "    sample sysfs cycles: ${sample_ok:-none} of $STRESS_SAMPLE_CYCLES"
echo "    ${summary:-no summary line}"
echo "    injected page-allocation failure reports (skipped): $alloc_failures"
echo "    va_alloc() warnings after an injected slab failure (skipped, at most 1): $vmap_warnings"
echo "    kmemleak objects after the scans: ${kmemleak:-none}"
for r in "${reports[@]}"; do
	name=${r%%|*}
	printf '    %-40s %s\n' "$name reports:" "${report_count[$name]}"
done
grep -E '^STRESS' "$LOG" | sed 's/^/    /' || true
echo "$passed $failed" >"$COUNTS"
if [ "$failed" -gt 0 ]; then
	echo "---- last 100 lines of $LOG ----"
	tail -n 100 "$LOG"
	echo "---- failed checks ----"
	printf '    %s\n' "${failures[@]}"
fi
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
