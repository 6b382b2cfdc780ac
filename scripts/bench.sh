#!/usr/bin/env bash
# Benchmarks of the Rust bindings against the same C calls, in one boot.
#
# Builds the two modules of bench/ (rust_bench.rs, c_bench.c) as external
# modules against the existing kernel build (copied to /build/bench in the
# root; the kernel tree and /build/out are only read), checks in the
# disassembly of rust_bench.ko that the bound-borrow Devres access has no
# atomic read-modify-write and no call, boots the kernel in QEMU (TCG, two
# CPUs, two edu devices) with an initramfs whose /init (tests/bench/init)
# binds one device to each module, and turns the "BENCH" lines of the log into
# a table: operation | C ns/op | Rust ns/op | Rust/C | spread. The table is
# printed and written to $CACHE/logs/bench.txt (the log is bench.log, the
# disassemblies bench-rust.dis and bench-c.dis). Fails if a line is missing,
# the two sides used different counts, a step failed, or the log has a BUG,
# WARNING, Oops or Call Trace.
#
# The modules run their benchmarks in their probe; /init binds each of them
# BENCH_ROUNDS times, C and Rust alternating, and the table takes for each
# operation the median of the rounds' medians. QEMU's timing follows the
# host's load: the table records the load average, and numbers taken while
# the host was busy (a kernel build, say) are only good for coarse ratios.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_TIMEOUT (seconds for QEMU,
# default 600), BENCH_BUILD_TRIES (default 3: a failed build is retried after
# 30 s, in case the kernel build was being rewritten at the time).
. "$(dirname "$0")/lib.sh"

BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BENCH_BUILD_TRIES=${BENCH_BUILD_TRIES:-3}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
LOGS=$CACHE/logs
LOG=$LOGS/bench.log
TABLE=$LOGS/bench.txt
WORK=/build/bench # inside the root
KERNEL=$KOUT/arch/x86/boot/bzImage
mkdir -p "$LOGS"
rm -f "$LOG" "$TABLE"

[ -f "$ROOT$KERNEL" ] || die "no kernel at $ROOT$KERNEL (run 'make build' first)"
[ -f "$ROOT$KOUT/rust/libkernel.rmeta" ] || die "no kernel crate in $ROOT$KOUT/rust (run 'make build' first)"

step "building bench/ as external modules in $WORK"
built=
for try in $(seq 1 "$BENCH_BUILD_TRIES"); do
	rm -rf "$ROOT$WORK"
	mkdir -p "$ROOT$WORK"
	cp "$TOP"/bench/Kbuild "$TOP"/bench/rust_bench.rs "$TOP"/bench/c_bench.c "$ROOT$WORK/"
	if in_root "make -C $KSRC O=$KOUT LLVM=1 M=$WORK -j$JOBS modules"; then
		built=1
		break
	fi
	if [ "$try" -lt "$BENCH_BUILD_TRIES" ]; then
		echo "    build failed (try $try of $BENCH_BUILD_TRIES); retrying in 30 s"
		sleep 30
	fi
done
[ -n "$built" ] || die "could not build the benchmark modules"

step "checking the disassembly of bench_devres_access"
objdump="llvm-objdump -dr --no-show-raw-insn"
in_root "$objdump $WORK/rust_bench.ko" >"$LOGS/bench-rust.dis"
in_root "$objdump $WORK/c_bench.ko" >"$LOGS/bench-c.dis"
dis=$(in_root "$objdump --disassemble-symbols=bench_devres_access $WORK/rust_bench.ko" |
	sed -n '/<bench_devres_access>:/,$p')
printf '%s\n' "$dis" | sed 's/^/    /'
# Instruction lines ("addr: mnemonic operands") and relocation lines.
insns=$(printf '%s\n' "$dis" | grep -E '^ *[0-9a-f]+:' || true)
relocs=$(printf '%s\n' "$dis" | grep -E 'R_X86_64_' || true)
verdict=ok
reasons=()
if [ -z "$insns" ]; then
	verdict=FAIL
	reasons+=("function not found")
fi
if printf '%s\n' "$insns" | grep -qE ':[[:space:]]+lock\b'; then
	verdict=FAIL
	reasons+=("lock-prefixed instruction")
fi
if printf '%s\n' "$insns" | grep -qE ':[[:space:]]+xchg[bwlq]?[[:space:]].*\('; then
	verdict=FAIL
	reasons+=("xchg with memory")
fi
if printf '%s\n' "$insns" | grep -qE ':[[:space:]]+call'; then
	verdict=FAIL
	reasons+=("call")
fi
if printf '%s\n' "$relocs" | grep -qi 'rcu'; then
	verdict=FAIL
	reasons+=("reference to an rcu function")
fi
# The only jumps out of the function may go to the return thunk.
if printf '%s\n' "$relocs" | grep -v '__x86_return_thunk' | grep -q .; then
	verdict=FAIL
	reasons+=("reference to another symbol")
fi
echo "    for comparison, the C plain read:"
in_root "$objdump --disassemble-symbols=c_bench_plain_read $WORK/c_bench.ko" |
	sed -n '/<c_bench_plain_read>:/,$p' | sed 's/^/    /'
check_line="BENCH check devres_access_no_atomics: $verdict"
[ "$verdict" = ok ] || check_line+=" (${reasons[*]})"
echo "$check_line"

step "building the initramfs"
make_initramfs "$WORK" "$TOP/tests/bench/init" "$WORK/c_bench.ko" "$WORK/rust_bench.ko" ||
	die "could not build the initramfs"

step "booting in QEMU (TCG, 2 CPUs, 2 edu devices, timeout ${BENCH_TIMEOUT} s, log: $LOG)"
append="console=ttyS0 kunit.enable=0 panic=-1 loglevel=7 bench.rounds=$BENCH_ROUNDS"
start=$SECONDS
rc=0
load_before=$(cut -d' ' -f1 /proc/loadavg)
boot_qemu "$WORK" "$BENCH_TIMEOUT" "$LOG" -smp 2 -m 1024 -device edu -device edu \
	-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "'$append'" || rc=$?
load_after=$(cut -d' ' -f1 /proc/loadavg)
printf '    QEMU ended after %d s (exit status %d)\n' "$((SECONDS - start))" "$rc"

# The table: one row per operation, as "label c_name rust_name". The C side
# has no revocation: both Devres rows compare with a plain pointer read, and
# try_access() also with a read under rcu_read_lock(); the coherent
# allocations are also compared with C's managed (devres) variants.
rows=(
	"coherent_alloc_4k coherent_alloc_4k coherent_alloc_4k"
	"coherent_alloc_64k coherent_alloc_64k coherent_alloc_64k"
	"coherent_alloc_4k(C:dmam) coherent_alloc_4k_dmam coherent_alloc_4k"
	"coherent_alloc_64k(C:dmam) coherent_alloc_64k_dmam coherent_alloc_64k"
	"coherent_read coherent_read coherent_read"
	"coherent_write coherent_write coherent_write"
	"streaming_4k streaming_4k streaming_4k"
	"devres_access(C:plain) plain_read devres_access"
	"devres_try_access(C:plain) plain_read devres_try_access"
	"devres_try_access(C:rcu) rcu_read devres_try_access"
	"pgtable_map_unmap_1000 pgtable_map_unmap_1000 pgtable_map_unmap_1000"
	"pgtable_iova_to_phys pgtable_iova_to_phys pgtable_iova_to_phys"
	"mmio_read32 mmio_read32 mmio_read32"
	"synchronize_rcu synchronize_rcu synchronize_rcu"
)
problems=()
# Prints "n median min max count" of side $1, operation $2 over all rounds:
# the median of the rounds' medians, the least minimum and the greatest
# maximum, and the number of rounds; nothing if there is no such line.
result() {
	local lines
	lines=$(grep -E "BENCH $1 $2 n=" "$LOG" |
		sed -E 's/.*BENCH [a-z]+ [a-z0-9_]+ n=([0-9]+) reps=[0-9]+ median=([0-9.]+) min=([0-9.]+) max=([0-9.]+) ns\/op.*/\1 \2 \3 \4/') || return 0
	[ -n "$lines" ] || return 0
	printf '%s %s %s %s %s\n' \
		"$(cut -d' ' -f1 <<<"$lines" | sort -u | paste -sd/)" \
		"$(cut -d' ' -f2 <<<"$lines" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
		"$(cut -d' ' -f3 <<<"$lines" | sort -g | head -n 1)" \
		"$(cut -d' ' -f4 <<<"$lines" | sort -g | tail -n 1)" \
		"$(wc -l <<<"$lines")"
}
{
	echo "Rust bindings against the same C calls, in ns per operation: the median over"
	echo "$BENCH_ROUNDS rounds (C and Rust alternating) of each round's median of 7 repetitions;"
	echo "spread: the least and greatest repetition of all rounds; min R/C: the ratio of the"
	echo "least repetitions, the one least disturbed by a busy host."
	echo "QEMU TCG, 2 CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); host load average (1 min)"
	echo "before and after the boot: $load_before, $load_after (the host has $(nproc) CPUs)."
	echo
	printf '%-28s %14s %14s %8s %8s  %s\n' operation 'C ns/op' 'Rust ns/op' Rust/C 'min R/C' \
		'spread (min-max): C | Rust'
	for row in "${rows[@]}"; do
		read -r label cname rname <<<"$row"
		c=$(result c "$cname")
		r=$(result rust "$rname")
		if [ -z "$c" ] || [ -z "$r" ]; then
			[ -n "$c" ] || problems+=("missing line 'BENCH c $cname'")
			[ -n "$r" ] || problems+=("missing line 'BENCH rust $rname'")
			printf '%-28s %14s %14s %8s\n' "$label" "$(cut -d' ' -f2 <<<"${c:--}")" \
				"$(cut -d' ' -f2 <<<"${r:--}")" missing
			continue
		fi
		read -r cn cmed cmin cmax ccount <<<"$c"
		read -r rn rmed rmin rmax rcount <<<"$r"
		[ "$cn" = "$rn" ] && [[ $cn != */* ]] || problems+=("$label: C ran n=$cn, Rust n=$rn")
		[ "$ccount" -eq "$BENCH_ROUNDS" ] || problems+=("$label: $ccount C rounds, want $BENCH_ROUNDS")
		[ "$rcount" -eq "$BENCH_ROUNDS" ] || problems+=("$label: $rcount Rust rounds, want $BENCH_ROUNDS")
		ratio=$(awk -v r="$rmed" -v c="$cmed" 'BEGIN { if (c > 0) printf "%.3f", r / c; else print "inf" }')
		minratio=$(awk -v r="$rmin" -v c="$cmin" 'BEGIN { if (c > 0) printf "%.3f", r / c; else print "inf" }')
		printf '%-28s %14s %14s %8s %8s  %s-%s | %s-%s\n' "$label" "$cmed" "$rmed" "$ratio" \
			"$minratio" "$cmin" "$cmax" "$rmin" "$rmax"
	done
	echo
	echo "$check_line"
} >"$TABLE"

no_timeout() { [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; }
no_timeout || problems+=("QEMU did not power off within ${BENCH_TIMEOUT} s (exit status $rc)")
for side in c rust; do
	got=$(grep -c "BENCH-DONE $side\$" "$LOG" || true)
	[ "$got" -eq "$BENCH_ROUNDS" ] || problems+=("$got lines 'BENCH-DONE $side', want $BENCH_ROUNDS")
done
grep -q 'BENCH-INIT-DONE' "$LOG" || problems+=("no line 'BENCH-INIT-DONE'")
for bad in 'BENCH-FAILED' 'BENCH-INIT: .* FAILED' 'BUG:' 'WARNING:' 'Oops' 'Call Trace'; do
	if grep -qE -- "$bad" "$LOG"; then
		problems+=("a line matching /$bad/: $(grep -m1 -E -- "$bad" "$LOG")")
	fi
done
[ "$verdict" = ok ] || problems+=("$check_line")

cat "$TABLE"
echo "    (table: $TABLE, log: $LOG)"
if [ ${#problems[@]} -gt 0 ]; then
	echo "---- last 100 lines of $LOG ----"
	tail -n 100 "$LOG"
	echo "---- problems ----"
	printf '    %s\n' "${problems[@]}"
	echo "bench: FAILED"
	exit 1
fi
echo "bench: ok"
