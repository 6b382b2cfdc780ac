#!/usr/bin/env bash
# The KUnit suites under the debug configuration (configs/debug.config on top
# of kunit.config: KASAN, lockdep, atomic-sleep and RCU checks, kmemleak,
# debug objects, fault injection, non-preemptible RCU), in their own build
# directory, then a short stress run on the same kernel (scripts/stress.sh
# with CHECK_STRESS_CYCLES unbind/bind cycles, default 1,000, all 1,000
# fault-injected probes, CHECK_STRESS_SAMPLE_CYCLES sysfs cycles of the
# sample, default 50, and CHECK_STRESS_REMOVAL_CYCLES sysfs remove/rescan
# cycles, default 20; `make stress` and `make removal` are the full runs),
# then a short hot-unplug run (scripts/hotplug.sh with CHECK_HOTPLUG_CYCLES
# QMP device_del/device_add cycles, default 3; `make hotplug` runs 20).
# Passes only if every test passes and the kernel logs have no report. The
# last line is "N passed, N failed".
. "$(dirname "$0")/lib.sh"

start=$SECONDS
rc=0
bash "$TOP/scripts/toolchain.sh" && bash "$TOP/scripts/tree.sh" || rc=$?
if [ $rc -ne 0 ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
bash "$TOP/scripts/kunit.sh" --debug || true
read -r passed failed <"$CACHE/logs/kunit-debug.counts" 2>/dev/null || { passed=0 failed=1; }
if grep -q '^Running tests with:' "$CACHE/logs/kunit-debug.log" 2>/dev/null; then
	STRESS_CYCLES=${CHECK_STRESS_CYCLES:-1000} STRESS_FAULT_PROBES=1000 \
		STRESS_SAMPLE_CYCLES=${CHECK_STRESS_SAMPLE_CYCLES:-50} \
		STRESS_REMOVAL_CYCLES=${CHECK_STRESS_REMOVAL_CYCLES:-20} STRESS_TIMEOUT=2400 \
		bash "$TOP/scripts/stress.sh" || true
	read -r p f <"$CACHE/logs/stress.counts" 2>/dev/null || { p=0 f=1; }
	HOTPLUG_CYCLES=${CHECK_HOTPLUG_CYCLES:-3} HOTPLUG_TIMEOUT=600 \
		bash "$TOP/scripts/hotplug.sh" || true
	read -r hp hf <"$CACHE/logs/hotplug.counts" 2>/dev/null || { hp=0 hf=1; }
else
	echo "    stress not run: the debug kernel build failed"
	p=0 f=1 hp=0 hf=1
fi
printf '    kunit-debug: %d passed, %d failed; stress: %d passed, %d failed; hotplug: %d passed, %d failed\n' \
	"$passed" "$failed" "$p" "$f" "$hp" "$hf"
passed=$((passed + p + hp)) failed=$((failed + f + hf))
printf '    elapsed: %d s\n' $((SECONDS - start))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
