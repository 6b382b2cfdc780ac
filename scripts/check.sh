#!/usr/bin/env bash
# The whole test run: provision the root, lay out the kernel tree, build the
# kernel and run KUnit (kunit.sh), then compile the misuse catalogue against
# the built kernel crate (misuse.sh), boot the sample driver end to end
# (e2e.sh) on the same build, by MSI and once more by INTx (pci=nomsi), run
# the DMA suite once more with swiotlb=force (swiotlb.sh) and the
# configuration-space suite on QEMU's q35 with an NVMe controller
# (kunit.sh --q35), and lint (lint.sh); then, for arm64 (DRVCORE_ARCH=arm64, its
# own build), the KUnit suites and the end-to-end boot once more, unless
# CHECK_ARM64=0. The unsafe audit
# (unsafe-audit.sh) reads the sources only, and the self-test of the
# kernel-log scanner (kernel_log_selftest in lib.sh, on the fixtures in
# tests/logscan/) needs nothing at all. A failing suite does not stop the run
# as long as a kernel was built. The summary gives each suite's counts and
# their sums per architecture (the architecture-independent suites count
# with x86_64); the last line is "N passed, N failed", summed over all
# suites; a suite that could not run counts as 1 failed. Exit status 0 only
# when nothing failed.
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
LOGS=$CACHE/logs
start=$SECONDS
total_passed=0 total_failed=0
arm_passed=0 arm_failed=0
results=()
CHECK_ARM64=${CHECK_ARM64:-1}

# Add a suite's counts from its counts file, or 1 failed if there is none.
# Suites whose name ends in -arm64 are arm64's.
tally() { # name, counts file
	local p=0 f=1
	if [ -s "$2" ]; then
		read -r p f <"$2"
	fi
	total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
	case $1 in *-arm64) arm_passed=$((arm_passed + p)) arm_failed=$((arm_failed + f)) ;; esac
	results+=("$(printf '%-12s %d passed, %d failed' "$1:" "$p" "$f")")
}
not_run() { # name, reason
	echo "    $1 not run: $2"
	total_failed=$((total_failed + 1))
	case $1 in *-arm64) arm_failed=$((arm_failed + 1)) ;; esac
	results+=("$(printf '%-12s not run (%s), counted as 1 failed' "$1:" "$2")")
}
finish() {
	step "summary"
	printf '    %s\n' "${results[@]}"
	printf '    x86_64: %d passed, %d failed\n' $((total_passed - arm_passed)) $((total_failed - arm_failed))
	if [ "$CHECK_ARM64" != 0 ]; then
		printf '    arm64:  %d passed, %d failed\n' "$arm_passed" "$arm_failed"
	else
		echo "    arm64:  not run (CHECK_ARM64=0)"
	fi
	printf '    elapsed: %d s\n' $((SECONDS - start))
	echo "$total_passed passed, $total_failed failed"
	exit $((total_failed > 0))
}

mkdir -p "$LOGS"
rm -f "$LOGS"/{logscan,audit,kunit,kunit-q35,misuse,e2e,e2e-intx,swiotlb,lint,kunit-arm64,e2e-arm64}.counts

# One test: the scanner that judges the kernel logs of kunit.sh and stress.sh
# finds the planted reports and nothing else, so that it cannot rot unseen.
step "kernel-log scanner self-test (tests/logscan/)"
if kernel_log_selftest "$TOP/tests/logscan"; then
	echo "    ok"
	echo "1 0" >"$LOGS/logscan.counts"
else
	echo "0 1" >"$LOGS/logscan.counts"
fi
tally logscan "$LOGS/logscan.counts"

if ! bash "$S/toolchain.sh" || ! bash "$S/tree.sh"; then
	not_run kunit "no build root or kernel tree"
	not_run misuse "no build root or kernel tree"
	not_run e2e "no build root or kernel tree"
	not_run e2e-intx "no build root or kernel tree"
	not_run swiotlb "no build root or kernel tree"
	not_run lint "no build root or kernel tree"
	if [ "$CHECK_ARM64" != 0 ]; then
		not_run kunit-arm64 "no build root or kernel tree"
		not_run e2e-arm64 "no build root or kernel tree"
	fi
	finish
fi

# The unsafe audit reads the sources only (with the host's python3, or the
# root's).
step "unsafe audit"
bash "$S/unsafe-audit.sh" || true
tally audit "$LOGS/audit.counts"

bash "$S/kunit.sh" || true
tally kunit "$LOGS/kunit.counts"

# kunit.py prints "Running tests with:" once the kernel is built and about
# to boot; without it the build failed and there is nothing to compile
# against or to boot.
if grep -q '^Running tests with:' "$LOGS/kunit.log" 2>/dev/null; then
	step "the compile-fail catalogue (tests/misuse/)"
	bash "$S/misuse.sh" || true
	tally misuse "$LOGS/misuse.counts"
	bash "$S/e2e.sh" || true
	tally e2e "$LOGS/e2e.counts"
	# Once more with MSI off: the sample takes its INTx line.
	E2E_NAME=e2e-intx E2E_APPEND=pci=nomsi E2E_EXTRA=$TOP/tests/e2e/expected-intx \
		bash "$S/e2e.sh" || true
	tally e2e-intx "$LOGS/e2e-intx.counts"
	bash "$S/swiotlb.sh" || true
	tally swiotlb "$LOGS/swiotlb.counts"
	# The same kernel on the PCI Express machine (q35, with an NVMe
	# controller): the suites that need extended configuration space.
	bash "$S/kunit.sh" --q35 || true
	tally kunit-q35 "$LOGS/kunit-q35.counts"
	# Last: it may bring the build up to date first (a no-op here); its
	# clippy pass writes nothing into the build.
	bash "$S/lint.sh" || true
	tally lint "$LOGS/lint.counts"
else
	not_run misuse "the kernel build failed"
	not_run e2e "the kernel build failed"
	not_run e2e-intx "the kernel build failed"
	not_run swiotlb "the kernel build failed"
	not_run kunit-q35 "the kernel build failed"
	not_run lint "the kernel build failed"
fi

# arm64, in its own build directory: the same suites in QEMU's virt machine
# with an SMMUv3 and a GICv3 ITS (scripts/lib.sh), and the sample end to end.
if [ "$CHECK_ARM64" != 0 ]; then
	DRVCORE_ARCH=arm64 bash "$S/kunit.sh" || true
	tally kunit-arm64 "$LOGS/kunit-arm64.counts"
	if grep -q '^Running tests with:' "$LOGS/kunit-arm64.log" 2>/dev/null; then
		DRVCORE_ARCH=arm64 bash "$S/e2e.sh" || true
		tally e2e-arm64 "$LOGS/e2e-arm64.counts"
	else
		not_run e2e-arm64 "the arm64 kernel build failed"
	fi
fi
finish
