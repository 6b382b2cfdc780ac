#!/usr/bin/env bash
# Benchmarks of the Rust bindings against the same C calls, in one boot.
#
# Builds the modules of bench/ (rust_bench.rs, c_bench.c, c_driver_edu.c) as
# external modules against the existing kernel build (copied to /build/bench in
# the root; the kernel tree and /build/out are only read), checks in the
# disassembly of rust_bench.ko that the bound-borrow Devres access has no
# atomic read-modify-write and no call, boots the kernel in QEMU (TCG, two
# CPUs, two edu devices) with an initramfs whose /init (tests/bench/init)
# binds one device to each module, and turns the "BENCH" lines of the log into
# a table: operation | C ns/op | Rust ns/op | Rust/C | spread. Among the
# rows: an interrupt round trip through edu's MSI (raise, spin until the
# handler has counted it), and bound work against work on the system
# workqueue (queue, wait for the completion it signals). The table is
# printed and written to $CACHE/logs/bench.txt (the log is bench.log, the
# disassemblies bench-rust.dis and bench-c.dis). Fails if a line is missing,
# the two sides used different counts, a step failed, or the log has a BUG,
# WARNING, Oops or Call Trace.
#
# The unbind rows: after those rounds, /init loads rust_unbind.rs and
# c_unbind.c (once each per round, alternating), whose module init binds one
# edu device with 1, 10 and 100 managed values of 64 bytes (Rust: Devres,
# C: devm_kzalloc()) and times 7 unbinds for each count; their times are ns
# per whole unbind, not per value. After the table, a note gives for each
# count Rust - C in ms beside one grace period (the synchronize_rcu row),
# and the check "BENCH check unbind_flat" (rule below) fails the bench when
# the Rust unbind grows with the count, or exceeds C's by more than the one
# grace period that revocation needs or by clearly less (no wait at all). The grace periods must be normal ones:
# the bench fails if /init reports rcu_expedited other than 0.
#
# Then the sample driver and its C twin: bench/c_driver_edu.c does what
# samples/rust/rust_driver_edu.rs does with the C API. After the table come,
# for the Rust sample's in-tree module ($KOUT/samples/rust/rust_driver_edu.ko)
# and c_driver_edu.ko, the lines of code and the sizes of the modules
# (llvm-size): the sections whose names begin with .text, all the code
# sections (also .init.text and .exit.text) and all allocated sections. Then
# scripts/e2e.sh boots the twin through the sample's end-to-end checks
# (tests/e2e/expected; log: $CACHE/logs/bench-e2e.log); it must pass them all.
# A failure to build the twin, to measure it, or of its e2e run fails the
# bench.
#
# The modules run their benchmarks in their probe; /init binds each of them
# BENCH_ROUNDS times, C and Rust alternating, and the table takes for each
# operation the median of the rounds' medians. QEMU's timing follows the
# host's load: the table records the load average, and numbers taken while
# the host was busy (a kernel build, say) are only good for coarse ratios.
#
# With BENCH_ICOUNT=1 (make bench-icount) QEMU counts guest instructions
# instead of following the host's clock: -icount shift=0,sleep=off,align=off
# makes the guest's clock advance 1 ns per instruction executed and runs both
# vCPUs on one host thread, so each "ns" of the table is one guest
# instruction and a row repeats whatever the host's load. The log and table
# are then bench-icount.log and bench-icount.txt, beside the wall-clock ones.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_TIMEOUT (seconds for QEMU,
# default 600), BENCH_BUILD_TRIES (default 3: a failed build is retried after
# 30 s, in case the kernel build was being rewritten at the time),
# BENCH_ICOUNT (default 0).
. "$(dirname "$0")/lib.sh"

BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BENCH_BUILD_TRIES=${BENCH_BUILD_TRIES:-3}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_ICOUNT=${BENCH_ICOUNT:-0}
LOGS=$CACHE/logs
if [ "$BENCH_ICOUNT" = 1 ]; then
	LOG=$LOGS/bench-icount.log
	TABLE=$LOGS/bench-icount.txt
	icount=(-icount shift=0,sleep=off,align=off)
	unit=insns clock="QEMU TCG with -icount shift=0 (1 ns = 1 guest instruction)"
else
	LOG=$LOGS/bench.log
	TABLE=$LOGS/bench.txt
	icount=()
	unit=ns clock="QEMU TCG"
fi
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
	cp "$TOP"/bench/Kbuild "$TOP"/bench/rust_bench.rs "$TOP"/bench/c_bench.c \
		"$TOP"/bench/c_driver_edu.c "$TOP"/bench/rust_unbind.rs "$TOP"/bench/c_unbind.c \
		"$ROOT$WORK/"
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
for ko in rust_bench c_bench c_driver_edu rust_unbind c_unbind; do
	[ -f "$ROOT$WORK/$ko.ko" ] || die "the build made no $WORK/$ko.ko"
done

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
make_initramfs "$WORK" "$TOP/tests/bench/init" "$WORK/c_bench.ko" "$WORK/rust_bench.ko" \
	"$WORK/c_unbind.ko" "$WORK/rust_unbind.ko" ||
	die "could not build the initramfs"

step "booting in QEMU (TCG, 2 CPUs, 2 edu devices, timeout ${BENCH_TIMEOUT} s, log: $LOG)"
append="console=ttyS0 kunit.enable=0 panic=-1 loglevel=7 bench.rounds=$BENCH_ROUNDS"
start=$SECONDS
rc=0
load_before=$(cut -d' ' -f1 /proc/loadavg)
boot_qemu "$WORK" "$BENCH_TIMEOUT" "$LOG" "${icount[@]}" -smp 2 -m 1024 -device edu -device edu \
	-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "'$append'" || rc=$?
load_after=$(cut -d' ' -f1 /proc/loadavg)
printf '    QEMU ended after %d s (exit status %d)\n' "$((SECONDS - start))" "$rc"

# The table: one row per operation, as "label c_name rust_name". The C side
# has no revocation: both Devres rows compare with a plain pointer read, and
# try_access() also with a read under rcu_read_lock(); the coherent
# allocations are also compared with C's managed (devres) variants. The
# unbind rows are ns per whole unbind of a binding holding N values.
rows=(
	"coherent_alloc_4k coherent_alloc_4k coherent_alloc_4k"
	"coherent_alloc_64k coherent_alloc_64k coherent_alloc_64k"
	"coherent_alloc_4k(C:dmam) coherent_alloc_4k_dmam coherent_alloc_4k"
	"coherent_alloc_64k(C:dmam) coherent_alloc_64k_dmam coherent_alloc_64k"
	"coherent_read coherent_read coherent_read"
	"coherent_read(Rust:iter) coherent_read coherent_read_iter"
	"coherent_write coherent_write coherent_write"
	"project_read project_read project_read"
	"project_write project_write project_write"
	"pool_alloc_64 pool_alloc_64 pool_alloc_64"
	"streaming_4k streaming_4k streaming_4k"
	"streaming_live_1000 streaming_live_1000 streaming_live_1000"
	"sg_map_unmap_64 sg_map_unmap_64 sg_map_unmap_64"
	"devres_access(C:plain) plain_read devres_access"
	"devres_try_access(C:plain) plain_read devres_try_access"
	"devres_try_access(C:rcu) rcu_read devres_try_access"
	"pgtable_map_unmap_1000 pgtable_map_unmap_1000 pgtable_map_unmap_1000"
	"pgtable_iova_to_phys pgtable_iova_to_phys pgtable_iova_to_phys"
	"mmio_read32 mmio_read32 mmio_read32"
	"irq_round_trip irq_round_trip irq_round_trip"
	"bound_work_dispatch work_dispatch bound_work_dispatch"
	"synchronize_rcu synchronize_rcu synchronize_rcu"
	"unbind_devres_1 unbind_devres_1 unbind_devres_1"
	"unbind_devres_10 unbind_devres_10 unbind_devres_10"
	"unbind_devres_100 unbind_devres_100 unbind_devres_100"
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

# The unbind check. With gp the synchronize_rcu row's C median (one grace
# period), rust(N) and c(N) the medians of the unbind_devres_N rows:
#   flat:     rust(N) - rust(1) <= max(gp, 20% of rust(1)) for N = 10, 100;
#   one gp:   rust(N) - c(N) <= 1.5 gp for N = 1, 10, 100;
#   waits:    rust(N) - c(N) >= 0.5 gp for N = 1, 10, 100.
# An unbind that waits for one grace period however many values the binding
# holds passes all three with room: its rows differ by the per-value work (a
# few microseconds each, against a grace period of about 16 ms under TCG at
# HZ=250), and the half grace period on either side of the one revocation
# needs leaves room for that work, for a grace period that was already under
# way when the unbind began, and for the noise of a busy host. An unbind that
# waits for a grace period per value fails the first two from N = 10 on
# (about 9 and 99 grace periods more than rust(1)); one that waits for none
# fails the third: it dropped values that readers may still have been using.
# The note lines give each count's Rust - C in ms and in grace periods.
unbind_counts=(1 10 100)
unbind_verdict=ok
unbind_reasons=()
unbind_notes=()
median_of() { result "$1" "$2" | cut -d' ' -f2; }
gp=$(median_of c synchronize_rcu)
rust1=$(median_of rust unbind_devres_1)
for n in "${unbind_counts[@]}"; do
	r=$(median_of rust "unbind_devres_$n")
	c=$(median_of c "unbind_devres_$n")
	if [ -z "$r" ] || [ -z "$c" ] || [ -z "$gp" ] || [ -z "$rust1" ]; then
		unbind_verdict=FAIL
		unbind_reasons+=("n=$n: missing lines")
		unbind_notes+=("$(printf '  n=%-4s missing' "$n")")
		continue
	fi
	unbind_notes+=("$(awk -v n="$n" -v r="$r" -v c="$c" -v gp="$gp" 'BEGIN {
		printf "  n=%-4s Rust %10.3f ms   C %10.3f ms   Rust-C %10.3f ms = %6.2f grace periods",
			n, r / 1e6, c / 1e6, (r - c) / 1e6, (gp > 0 ? (r - c) / gp : 0) }')")
	if ! awk -v r="$r" -v c="$c" -v gp="$gp" 'BEGIN { exit !(r - c <= 1.5 * gp) }'; then
		unbind_verdict=FAIL
		unbind_reasons+=("$(awk -v n="$n" -v r="$r" -v c="$c" -v gp="$gp" 'BEGIN {
			printf "n=%s: Rust-C %.1f ms > 1.5 grace periods (%.1f ms)", n, (r - c) / 1e6, 1.5 * gp / 1e6 }')")
	fi
	if ! awk -v r="$r" -v c="$c" -v gp="$gp" 'BEGIN { exit !(r - c >= 0.5 * gp) }'; then
		unbind_verdict=FAIL
		unbind_reasons+=("$(awk -v n="$n" -v r="$r" -v c="$c" -v gp="$gp" 'BEGIN {
			printf "n=%s: Rust-C %.1f ms < 0.5 grace periods (%.1f ms): no grace period waited for", n, (r - c) / 1e6, 0.5 * gp / 1e6 }')")
	fi
	if [ "$n" != 1 ] && ! awk -v r="$r" -v r1="$rust1" -v gp="$gp" \
		'BEGIN { t = 0.2 * r1; if (gp > t) t = gp; exit !(r - r1 <= t) }'; then
		unbind_verdict=FAIL
		unbind_reasons+=("$(awk -v n="$n" -v r="$r" -v r1="$rust1" -v gp="$gp" 'BEGIN {
			t = 0.2 * r1; if (gp > t) t = gp
			printf "n=%s: Rust grows by %.1f ms over n=1 > %.1f ms", n, (r - r1) / 1e6, t / 1e6 }')")
	fi
done
rcu_line=$(grep -m1 -oE 'BENCH-INIT: rcu_expedited=[^ ]* rcu_normal=[^ ]*' "$LOG" || true)
rcu_expedited=$(sed -nE 's/.*rcu_expedited=([^ ]*).*/\1/p' <<<"$rcu_line")
unbind_check_line="BENCH check unbind_flat: $unbind_verdict"
[ "$unbind_verdict" = ok ] || unbind_check_line+=" ($(printf '%s; ' "${unbind_reasons[@]}" | sed 's/; $//'))"
{
	echo "Rust bindings against the same C calls, in $unit per operation: the median over"
	echo "$BENCH_ROUNDS rounds (C and Rust alternating) of each round's median of 7 repetitions;"
	echo "spread: the least and greatest repetition of all rounds; min R/C: the ratio of the"
	echo "least repetitions, the one least disturbed by a busy host."
	echo "$clock, 2 CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); host load average (1 min)"
	echo "before and after the boot: $load_before, $load_after (the host has $(nproc) CPUs)."
	echo
	printf '%-28s %14s %14s %8s %8s  %s\n' operation "C $unit/op" "Rust $unit/op" Rust/C 'min R/C' \
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
	echo
	echo "Unbind of a binding holding n managed values of 64 bytes (unbind_devres_n rows:"
	echo "ns per whole unbind, not per value; Rust: Devres<[u64; 8]> in the driver data,"
	echo "C: devm_kzalloc()), against one grace period (synchronize_rcu, C: $(awk -v g="${gp:-0}" 'BEGIN { printf "%.3f", g / 1e6 }') ms;"
	echo "${rcu_line#BENCH-INIT: }):"
	printf '%s\n' "${unbind_notes[@]}"
	echo "$unbind_check_line"
} >"$TABLE"

no_timeout() { [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; }
no_timeout || problems+=("QEMU did not power off within ${BENCH_TIMEOUT} s (exit status $rc)")
for side in c rust; do
	got=$(grep -c "BENCH-DONE $side\$" "$LOG" || true)
	[ "$got" -eq "$BENCH_ROUNDS" ] || problems+=("$got lines 'BENCH-DONE $side', want $BENCH_ROUNDS")
done
for side in c rust; do
	got=$(grep -c "BENCH-DONE $side-unbind\$" "$LOG" || true)
	[ "$got" -eq "$BENCH_ROUNDS" ] ||
		problems+=("$got lines 'BENCH-DONE $side-unbind', want $BENCH_ROUNDS")
done
[ "$rcu_expedited" = 0 ] ||
	problems+=("grace periods not normal: '${rcu_line:-no rcu_expedited line}'")
grep -q 'BENCH-INIT-DONE' "$LOG" || problems+=("no line 'BENCH-INIT-DONE'")
for bad in 'BENCH-FAILED' 'BENCH-INIT: .* FAILED' 'BUG:' 'WARNING:' 'Oops' 'Call Trace'; do
	if grep -qE -- "$bad" "$LOG"; then
		problems+=("a line matching /$bad/: $(grep -m1 -E -- "$bad" "$LOG")")
	fi
done
[ "$verdict" = ok ] || problems+=("$check_line")
[ "$unbind_verdict" = ok ] || problems+=("$unbind_check_line")

# The Rust sample against its C twin. Lines of code: a line counts when,
# with its comments taken out, anything but white space is left. Comments are
# // to the end of the line (also Rust's /// and //! documentation) and
# /* ... */, across lines too; string literals are skipped when looking for
# comment markers, character literals are not (neither source has one that
# holds a quote or a comment marker). A line with code and a comment counts.
loc() {
	awk '
	{
		out = ""
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			c2 = substr($0, i, 2)
			if (inblock) {
				if (c2 == "*/") {
					inblock = 0
					i++
				}
				continue
			}
			if (instr) {
				out = out c
				if (c == "\\") {
					out = out substr($0, i + 1, 1)
					i++
				} else if (c == "\"") {
					instr = 0
				}
				continue
			}
			if (c2 == "//")
				break
			if (c2 == "/*") {
				inblock = 1
				i++
				continue
			}
			if (c == "\"")
				instr = 1
			out = out c
		}
		if (out ~ /[^ \t]/)
			count++
	}
	END { print count + 0 }' "$1"
}
# Prints ".text* code allocated" sizes in bytes of the module $1 (a path in
# the root): the sections whose names begin with .text; every section whose
# name contains .text (adding .init.text and .exit.text); and the allocated
# sections, as llvm-size's Berkeley total (text + data + bss) counts them.
ko_sizes() {
	local sysv berkeley
	sysv=$(in_root "llvm-size -A $1") || return 1
	berkeley=$(in_root "llvm-size -B $1") || return 1
	awk '$1 ~ /^\.text/ { t += $2 } $1 ~ /\.text/ { c += $2 } END { printf "%d %d", t, c }' <<<"$sysv"
	awk 'NR == 2 { printf " %d\n", $4 }' <<<"$berkeley"
}
twin_rows=(
	"rust_driver_edu $TOP/samples/rust/rust_driver_edu.rs $KOUT/samples/rust/rust_driver_edu.ko"
	"c_driver_edu $TOP/bench/c_driver_edu.c $WORK/c_driver_edu.ko"
)
{
	echo
	echo "The edu sample driver in Rust and its C twin (the same probe and remove):"
	echo "lines of code (not blank, not only comments) and module sizes in bytes"
	echo "(llvm-size: .text* sections; all code sections, with .init/.exit; allocated)."
	echo
	printf '%-18s %-40s %6s %8s %8s %10s\n' module source LOC '.text*' code allocated
	for row in "${twin_rows[@]}"; do
		read -r name src ko <<<"$row"
		lines=$(loc "$src")
		if sizes=$(ko_sizes "$ko") && [[ $sizes =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
			read -r text code alloc <<<"$sizes"
		else
			text=- code=- alloc=-
			problems+=("could not measure the sizes of $ko")
		fi
		printf '%-18s %-40s %6s %8s %8s %10s\n' "$name" "${src#"$TOP"/}" "$lines" "$text" \
			"$code" "$alloc"
	done
} >>"$TABLE"

step "end-to-end checks of the C twin (scripts/e2e.sh, E2E_KO=$WORK/c_driver_edu.ko)"
# e2e.sh names its summary line after E2E_NAME: "bench-e2e: N passed, N failed".
e2e_name=bench-e2e
e2e_out=$(E2E_MODULE=c_driver_edu E2E_DRIVER=c_driver_edu E2E_BIND=required \
	E2E_KO=$WORK/c_driver_edu.ko E2E_NAME=$e2e_name bash "$TOP/scripts/e2e.sh" 2>&1) && e2e_rc=0 || e2e_rc=$?
printf '%s\n' "$e2e_out" | sed 's/^/    /'
e2e_line=$(printf '%s\n' "$e2e_out" | grep -E "^$e2e_name: [0-9]+ passed, [0-9]+ failed\$" | tail -n 1) ||
	e2e_line=
[ -n "$e2e_line" ] || e2e_line="$e2e_name: no summary line"
{
	echo
	echo "c_driver_edu through the sample's end-to-end checks (tests/e2e/expected): ${e2e_line#"$e2e_name": }"
} >>"$TABLE"
[ "$e2e_rc" -eq 0 ] || problems+=("e2e of c_driver_edu failed: $e2e_line (log: $LOGS/bench-e2e.log)")

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
