#!/usr/bin/env bash
# The DMA suites (rust_dma, rust_dma_pool, rust_dma_sg) once more, on the
# existing build (scripts/kunit.sh), booted with swiotlb=force in 256 MiB:
# every streaming and scatter-gather mapping is bounced through
# the swiotlb pool, as SEV and TDX guests and devices with small masks get
# it. With 256 MiB all memory, the pool included, lies within edu's 28-bit
# mask, so the bounce path is really taken rather than refused. Counts the
# suites' results, the kernel log (no report), and two tests, "the
# streaming mappings were bounced" and "every scatter-gather segment lies
# in the swiotlb pool" (read from the suites' own counts). Writes "N M" to $CACHE/logs/swiotlb.counts. x86_64 only: behind
# arm64's SMMU the DMA layer maps through the IOMMU, which swiotlb=force
# leaves alone.
. "$(dirname "$0")/lib.sh"
[ "$DRVCORE_ARCH" = x86_64 ] || die "the swiotlb run is for x86_64 only"

LOGS=$CACHE/logs
COUNTS=$LOGS/swiotlb.counts
log=$LOGS/swiotlb.log
raw=$ROOT$KOUT/test.log
mkdir -p "$LOGS"
rm -f "$COUNTS"
[ -f "$ROOT$KOUT/$KIMAGE" ] || die "no kernel build in $ROOT$KOUT (run make build first)"

step "the DMA suites with swiotlb=force in 256 MiB (log: $log)"
rc=0
in_root "cd $KSRC && python3 -u tools/testing/kunit/kunit.py exec --arch=$DRVCORE_ARCH --build_dir=$KOUT \
	--kernel_args=swiotlb=force --timeout=300 \
	--qemu_args='-device edu -device edu -smp 2 -accel tcg -m 256' 'rust_dma*'" >"$log" 2>&1 || rc=$?
passed=0 failed=0
summary=$(grep -E 'Testing complete\. Ran [0-9]+ tests' "$log" | tail -n 1 || true)
if [[ $summary =~ passed:\ ([0-9]+) ]]; then
	passed=${BASH_REMATCH[1]}
fi
if [[ $summary =~ (failed|crashed|errors):\ ([0-9]+) ]] || [ -z "$summary" ] || [ $rc -ne 0 ]; then
	failed=$((failed + 1))
	echo "    the suite failed or did not finish (exit status $rc):"
	grep -E '^\[[0-9:]+\] (    |\[(FAILED|CRASHED)\])' "$log" | head -n 40 || true
fi
# The kernel log: no report of any kind (the scanner of lib.sh).
if reports=$(kernel_log_reports "$raw"); then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "    kernel reports in $raw:"
	echo "$reports" | head -n 40
fi
# The bounce path was taken: the suite counts the mappings whose bus address
# is not the buffer's own.
line=$(grep -aoE 'rust_dma: [0-9]+ of [0-9]+ streaming mappings bounced or translated' "$raw" | tail -n 1 || true)
echo "    ${line:-no bounce count in the log}"
if [[ $line =~ :\ ([0-9]+)\ of\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
# Every scatter-gather segment was a bounce buffer, in the pool.
line=$(grep -aoE 'rust_dma_sg: [0-9]+ segments mapped, [0-9]+ bounced or translated, [0-9]+ in the swiotlb pool' "$raw" | tail -n 1 || true)
echo "    ${line:-no segment count in the log}"
if [[ $line =~ :\ ([0-9]+)\ segments\ mapped,\ ([0-9]+)\ bounced\ or\ translated,\ ([0-9]+)\ in ]] &&
	[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[3]}" ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
echo "$passed $failed" >"$COUNTS"
echo "swiotlb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
