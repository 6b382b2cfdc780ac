# Common settings for the project's scripts; sourced, not run.
# shellcheck shell=bash

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DRVCORE_CACHE:-/var/cache/drvcore}
ROOT=$CACHE/trixie
# Paths as seen from inside the root.
KSRC=/build/linux
JOBS=${JOBS:-$(nproc)}

# The architecture the scripts build and boot: DRVCORE_ARCH=x86_64 (the
# default) or arm64. Each has its own build directory KOUT (inside the root),
# kernel image KIMAGE (relative to KOUT), QEMU binary, machine (QEMU_MACHINE:
# the options that make the machine; x86_64's qboot firmware, arm64's virt
# with a GICv3 and its ITS for MSI, and an SMMUv3 in the path of PCI DMA),
# serial console, static busybox for the initramfs (BUSYBOX), KUNIT_MACHINE
# (what kunit.py's own QEMU options for the architecture lack of
# QEMU_MACHINE; QEMU merges -machine options), and the suffix ARCH_SUFFIX of
# the names of its logs and work directories (empty on x86_64).
DRVCORE_ARCH=${DRVCORE_ARCH:-x86_64}
# arm64's busybox for its initramfs, unpacked by toolchain.sh (inside the root).
BUSYBOX_ARM64=/opt/arm64/usr/bin/busybox
case $DRVCORE_ARCH in
x86_64)
	KOUT=/build/out
	KIMAGE=arch/x86/boot/bzImage
	QEMU=qemu-system-x86_64
	QEMU_MACHINE="-bios qboot.rom"
	KUNIT_MACHINE=
	CONSOLE=ttyS0
	BUSYBOX=/usr/bin/busybox
	ARCH_SUFFIX=
	;;
arm64)
	KOUT=/build/out-arm64
	KIMAGE=arch/arm64/boot/Image.gz
	QEMU=qemu-system-aarch64
	KUNIT_MACHINE="-machine virt,gic-version=3,iommu=smmuv3"
	QEMU_MACHINE="$KUNIT_MACHINE -cpu max,pauth-impdef=on"
	CONSOLE=ttyAMA0
	BUSYBOX=$BUSYBOX_ARM64
	ARCH_SUFFIX=-arm64
	;;
*)
	printf 'error: DRVCORE_ARCH must be x86_64 or arm64, not "%s"\n' "$DRVCORE_ARCH" >&2
	exit 1
	;;
esac

# One check of a test script: a description, then the test as a command. The
# caller sets passed=0 failed=0 failures=() first; a failed check's
# description is added to failures.
check() {
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$what")
	fi
}

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command inside the root with /proc, /sys, /dev and /dev/pts mounted.
# Calls may overlap (a build and a lint, say): the live callers are listed
# under a lock, and the last one to leave unmounts.
in_root() {
	local m rc=0 lockfd users=$CACHE/.mounts.users
	exec {lockfd}>"$CACHE/.mounts.lock"
	flock "$lockfd"
	for m in proc sys dev dev/pts; do
		if ! mountpoint -q "$ROOT/$m"; then
			case $m in
			proc) mount -t proc proc "$ROOT/proc" ;;
			*) mount --bind "/$m" "$ROOT/$m" ;;
			esac
		fi
	done
	echo "$BASHPID" >>"$users"
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
	flock -u "$lockfd"
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		/bin/bash -c "$*" || rc=$?
	flock "$lockfd"
	local pid live=()
	while read -r pid; do
		if [ "$pid" != "$BASHPID" ] && kill -0 "$pid" 2>/dev/null; then
			live+=("$pid")
		fi
	done <"$users"
	printf '%s\n' "${live[@]}" | grep . >"$users" || true
	if [ ${#live[@]} -eq 0 ]; then
		for m in dev/pts dev sys proc; do
			umount -l "$ROOT/$m" 2>/dev/null || true
		done
	fi
	flock -u "$lockfd"
	exec {lockfd}>&-
	return $rc
}

# Build $1/initramfs.cpio.gz (a path inside the root) from busybox (the
# architecture's), the /init script $2 (a host path) and the modules $3...
# (paths inside the root), which land in /modules, or with INITRAMFS_KREL set
# in /lib/modules/$INITRAMFS_KREL/extra, indexed by depmod.
make_initramfs() {
	local work=$1 init=$2
	shift 2
	rm -rf "$ROOT$work/initramfs"
	mkdir -p "$ROOT$work"/initramfs/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,modules}
	cp "$ROOT$BUSYBOX" "$ROOT$work/initramfs/bin/busybox"
	ln -s busybox "$ROOT$work/initramfs/bin/sh"
	install -m 0755 "$init" "$ROOT$work/initramfs/init"
	local m
	for m in "$@"; do
		cp "$ROOT$m" "$ROOT$work/initramfs/modules/"
	done
	# INITRAMFS_KREL: the modules are installed instead, under
	# /lib/modules/$INITRAMFS_KREL/extra with depmod's index files, so that
	# modprobe finds them by alias (a device's modalias).
	if [ -n "${INITRAMFS_KREL:-}" ]; then
		local dir=$work/initramfs/lib/modules/$INITRAMFS_KREL
		mkdir -p "$ROOT$dir/extra"
		mv "$ROOT$work"/initramfs/modules/* "$ROOT$dir/extra/"
		in_root "depmod -b $work/initramfs $INITRAMFS_KREL" || return 1
	fi
	in_root "cd $work/initramfs && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet | gzip -9 >$work/initramfs.cpio.gz"
}

# Boot QEMU inside the root: work dir (inside the root, for the pid file),
# time-out in seconds, host log file, then QEMU's arguments (after $QEMU,
# $QEMU_MACHINE and the options every boot here shares: TCG, no reboot,
# serial console on stdio, the pid file). The serial log goes to the
# log file without carriage returns. QEMU runs in the host's PID namespace
# and in the background, so that an interrupt (INT, TERM) is handled at once
# and ends the QEMU this started, by its pid. Returns QEMU's (or timeout's)
# exit status. QEMU_ACCEL (default "tcg") is the accelerator's option
# string: "tcg,thread=single" runs every vCPU on one host thread.
boot_qemu() {
	local work=$1 timeout=$2 log=$3
	shift 3
	QEMU_PIDFILE=$ROOT$work/qemu.pid
	trap 'stop_qemu; wait || true; echo "interrupted" >&2; exit 130' INT
	trap 'stop_qemu; wait || true; echo "interrupted" >&2; exit 143' TERM
	trap stop_qemu EXIT
	local rc=0
	# --foreground: QEMU stays in this process group and so gets a Ctrl-C too.
	{ in_root "timeout --foreground -k 10 $timeout $QEMU -nodefaults -accel ${QEMU_ACCEL:-tcg} \
		-no-reboot -nographic -serial stdio $QEMU_MACHINE -pidfile $work/qemu.pid $* </dev/null" 2>&1 |
		sed -u 's/\r//g' >"$log"; } &
	wait $! || rc=$?
	stop_qemu
	return $rc
}

stop_qemu() {
	local pid
	[ -n "${QEMU_PIDFILE:-}" ] || return 0
	pid=$(cat "$QEMU_PIDFILE" 2>/dev/null) || return 0
	# comm is the first 15 characters of the binary's name.
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${QEMU:0:15}" ]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$QEMU_PIDFILE"
}

# Kernel reports, shared by the kernel-log checks of kunit.sh and stress.sh: a
# name, then an extended regular expression matching a line that every report
# of the kind prints (usually its first). KASAN, lockdep, RCU, atomic-sleep,
# DMA-API-debug, kmemleak and debug-objects reports come from the debug
# configuration; the others can come from any kernel. arm64 reports a fault
# in the kernel as "Internal error:" (an Oops, or a synchronous external abort
# from a device access that the bus rejected) and prints "Call trace:".
KERNEL_REPORTS=(
	'KASAN|KASAN:'
	'UBSAN|UBSAN:'
	'lockdep circular locking|possible circular locking'
	'lockdep recursive locking|possible recursive locking'
	'lockdep inconsistent lock state|inconsistent lock state'
	'lockdep turned off|lockdep is turned off|turning off the locking correctness validator'
	'suspicious RCU usage|suspicious RCU usage'
	'RCU stall|rcu.*(detected stall|self-detected stall)'
	'sleeping in atomic context|BUG: sleeping function called from invalid context|scheduling while atomic'
	'WARNING|WARNING:'
	'DMA-API debug|DMA-API:'
	'kmemleak unreferenced object|unreferenced object'
	'debug objects|ODEBUG:'
	'BUG|BUG:'
	'Oops|Oops'
	'arm64 internal error|Internal error:'
	'Call Trace|Call [Tt]race'
	'kernel panic|Kernel panic'
	'hung task|INFO: task .* blocked'
)

# Whole lines that match a report pattern but report nothing: the two lines in
# which DMA-API debugging announces itself at every boot of a kernel with
# CONFIG_DMA_API_DEBUG (kernel/dma/debug.c, dma_debug_init()). Any other
# "DMA-API:" line is a finding of the checker (or its running out of entries,
# which makes it stop checking). An optional printk time stamp comes first.
KERNEL_LOG_HARMLESS='(\[ *[0-9]+\.[0-9]+\] )?DMA-API: (preallocated [0-9]+ debug entries|debugging enabled by kernel config)'

# The kernel log $1 without the harmless lines.
kernel_log_filter() {
	grep -avE "^($KERNEL_LOG_HARMLESS)\$" "$1" || true
}

# Prints the report lines of the kernel log $1 as "LINE:text" (LINE numbers
# the lines of $1) and returns 1 if there is any; 0 for a clean log.
kernel_log_reports() {
	local r re=
	# A missing log is no clean one (grep's status 2 would be lost in the pipe).
	[ -r "$1" ] || { echo "0:no kernel log $1"; return 1; }
	for r in "${KERNEL_REPORTS[@]}"; do
		re+=${re:+|}"(${r#*|})"
	done
	! grep -naE -- "$re" "$1" | grep -avE "^[0-9]+:($KERNEL_LOG_HARMLESS)\$"
}

# Self-test of the scanner, with no kernel, on the fixtures in $1 (default
# tests/logscan): clean.log, the log of a passing KUnit run (harmless lines
# included), must give no report; reports.log, the same log with a report of
# every kind of KERNEL_REPORTS planted in it, must give exactly the lines of
# reports.expected (so that a pattern that stops matching, or starts matching
# a harmless line, fails), and every kind must find its planted report.
# Prints what fails and returns 1 then.
kernel_log_selftest() {
	local dir=${1:-$TOP/tests/logscan} f r name re hits rc=0
	for f in clean.log reports.log reports.expected; do
		[ -s "$dir/$f" ] || { echo "    no fixture $dir/$f"; return 1; }
	done
	if ! hits=$(kernel_log_reports "$dir/clean.log"); then
		echo "    clean.log: reported as kernel reports:"
		printf '%s\n' "$hits" | sed 's/^/        /'
		rc=1
	fi
	hits=$(kernel_log_reports "$dir/reports.log") || true
	if [ "$hits" != "$(cat "$dir/reports.expected")" ]; then
		echo "    reports.log: the reported lines differ from reports.expected:"
		diff <(printf '%s\n' "$hits") "$dir/reports.expected" | sed 's/^/        /' || true
		rc=1
	fi
	for r in "${KERNEL_REPORTS[@]}"; do
		name=${r%%|*} re=${r#*|}
		if ! cut -d: -f2- <<<"$hits" | grep -qaE -- "$re"; then
			echo "    reports.log: no planted $name report found (/$re/)"
			rc=1
		fi
	done
	return $rc
}
