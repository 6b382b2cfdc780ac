#!/usr/bin/env bash
# Interactive shell on the built kernel (`make shell`): boots the kernel of
# the existing build in QEMU (TCG, no KVM) with SHELL_EDU edu devices and a
# busybox initramfs that has the edu sample's module installed, and gives a
# shell on the serial console, which is this terminal. Nothing is built and
# nothing is checked: this is for poking at the driver by hand.
#
# In the guest: /proc, /sys and /dev are mounted; the module is installed
# under /lib/modules/<release>/extra with depmod's index (modprobe
# rust_driver_edu, or modprobe of a device's modalias) and linked from
# /modules (insmod /modules/rust_driver_edu.ko); nothing is loaded at boot.
# A banner lists the edu devices and the commands; `shell_help` shows it
# again, `lspci` lists the PCI devices from /sys/bus/pci/devices. The
# console log level is 7 once the shell starts, so the driver's dev_info!
# lines appear on the console (the boot itself is quiet; `dmesg` has all).
# `poweroff` (or `exit`, or Ctrl-D) ends QEMU; so does Ctrl-A X at any time
# (QEMU's monitor multiplexed on the console: Ctrl-A C switches to it and
# back, Ctrl-A H lists the keys). A kernel panic ends QEMU too (panic=-1,
# -no-reboot). The console output is kept in $CACHE/logs/shell.log
# (shell-arm64.log, shell-debug.log).
#
# Input need not be a terminal: commands can be piped in (printf 'insmod
# /modules/rust_driver_edu.ko\npoweroff\n' | scripts/shell.sh). They are
# held back until the guest is up, then typed ahead into its shell (a line
# may show twice: the terminal's echo, then the shell's), and the end of
# the input ends the shell, as Ctrl-D would.
#
# Environment:
#   SHELL_ARCH       x86_64 (default, or DRVCORE_ARCH's value) or arm64 (the
#                    virt machine with the SMMUv3 and the GICv3 ITS, lib.sh)
#   SHELL_DEBUG=1    the debug kernel (/build/out-debug, `make check-debug`;
#                    x86_64 only), booted with acpi=noirq as stress.sh does
#   SHELL_EDU        number of edu devices (default 2)
#   SHELL_SMP        number of CPUs (default 2)
#   SHELL_MEM        memory in MiB (default 1024)
#   SHELL_MODULES    further .ko files to install beside the sample (paths
#                    inside the root, built against the same build)
#   SHELL_APPEND     added to the kernel command line (e.g. pci=nomsi)
#   SHELL_QEMU_ARGS  added to QEMU's arguments (split at white space)
#   SHELL_TIMEOUT    seconds after which QEMU is stopped (default 0: never)
#
# The kernel and module must have been built: `make build` (or `make check`,
# or `make check-debug` for SHELL_DEBUG=1; DRVCORE_ARCH=arm64 make build for
# arm64). This script only reads the build directory.
SHELL_ARCH=${SHELL_ARCH:-${DRVCORE_ARCH:-x86_64}}
case $SHELL_ARCH in
x86_64 | arm64) DRVCORE_ARCH=$SHELL_ARCH ;;
*) printf 'error: SHELL_ARCH must be x86_64 or arm64, not "%s"\n' "$SHELL_ARCH" >&2 && exit 1 ;;
esac
. "$(dirname "$0")/lib.sh"

SHELL_DEBUG=${SHELL_DEBUG:-0}
SHELL_EDU=${SHELL_EDU:-2}
SHELL_SMP=${SHELL_SMP:-2}
SHELL_MEM=${SHELL_MEM:-1024}
SHELL_MODULES=${SHELL_MODULES:-}
SHELL_APPEND=${SHELL_APPEND:-}
SHELL_QEMU_ARGS=${SHELL_QEMU_ARGS:-}
SHELL_TIMEOUT=${SHELL_TIMEOUT:-0}
for v in SHELL_EDU SHELL_SMP SHELL_MEM SHELL_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
[ "$SHELL_SMP" -ge 1 ] || die "SHELL_SMP must be at least 1"

build_hint="make build (or make check)"
[ "$DRVCORE_ARCH" = x86_64 ] || build_hint="DRVCORE_ARCH=$DRVCORE_ARCH make build"
append_debug=
case $SHELL_DEBUG in
0) ;;
1)
	[ "$DRVCORE_ARCH" = x86_64 ] || die "the debug kernel is built for x86_64 only"
	KOUT=$KOUT-debug
	build_hint="make check-debug"
	# As in stress.sh: under KASAN, kmemleak and debug objects, ACPI's routing
	# of a device's legacy interrupt takes seconds at each enable and
	# disable, so every bind and unbind; the sample takes MSI.
	append_debug=" acpi=noirq"
	;;
*) die "SHELL_DEBUG must be 0 or 1" ;;
esac

KERNEL=$KOUT/$KIMAGE
SAMPLE_KO=$KOUT/samples/rust/rust_driver_edu.ko
[ -f "$ROOT$KERNEL" ] || die "no kernel at $ROOT$KERNEL; build it first: $build_hint"
[ -f "$ROOT$SAMPLE_KO" ] || die "no module at $ROOT$SAMPLE_KO; build it first: $build_hint"
KREL=$(cat "$ROOT$KOUT/include/config/kernel.release" 2>/dev/null) ||
	die "no kernel release in $ROOT$KOUT/include/config/kernel.release; build it first: $build_hint"
modules=("$SAMPLE_KO")
for m in $SHELL_MODULES; do
	[ -f "$ROOT$m" ] || die "no module at $ROOT$m (SHELL_MODULES: paths inside the root $ROOT)"
	modules+=("$m")
done
# A module of another build would only be refused at insmod: say so now.
for m in "${modules[@]}"; do
	vermagic=$(in_root "modinfo -F vermagic $m") || die "modinfo failed on $m"
	[ "${vermagic%% *}" = "$KREL" ] ||
		echo "warning: $m is for ${vermagic%% *}, the kernel is $KREL" >&2
done

# One work directory per call, so that two shells (say x86_64 and arm64) can
# run at once; removed at the end.
name=shell$ARCH_SUFFIX
[ "$SHELL_DEBUG" = 0 ] || name=shell-debug
WORK=/build/$name-$$ # inside the root
# The console output of the last session (of each kernel), kept.
LOG=$CACHE/logs/$name.log
mkdir -p "$CACHE/logs"
QEMU_PIDFILE=$ROOT$WORK/qemu.pid
init=$(mktemp)
tty_state=
[ ! -t 0 ] || tty_state=$(stty -g)
feeder=
cleanup() {
	stop_qemu
	[ -z "$feeder" ] || kill "$feeder" 2>/dev/null || true
	[ ! -f "$ROOT$WORK/console.log" ] || sed 's/\r//g' "$ROOT$WORK/console.log" >"$LOG"
	[ -z "$tty_state" ] || stty "$tty_state" 2>/dev/null || true
	rm -rf "${ROOT:?}$WORK" "$init"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The /init of the initramfs (busybox sh). Its parameters come from the
# kernel command line: shell.rows and shell.cols (the host terminal's size,
# for the guest's line editing and pagers), shell.term (TERM), shell.what (a
# description for the banner, with _ for spaces).
cat >"$init" <<'INIT'
#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /etc /root
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100

rows= cols= what=
for arg in $(cat /proc/cmdline); do
	case $arg in
	shell.rows=*) rows=${arg#*=} ;;
	shell.cols=*) cols=${arg#*=} ;;
	shell.term=*) TERM=${arg#*=} ;;
	shell.what=*) what=$(echo "${arg#*=}" | tr _ ' ') ;;
	esac
done
[ -z "$rows" ] || [ -z "$cols" ] || stty rows "$rows" cols "$cols" 2>/dev/null

krel=$(uname -r)
for m in /lib/modules/"$krel"/extra/*.ko; do
	[ -e "$m" ] && ln -s "$m" /modules/
done

# The shell's own definitions, read by every interactive sh (ENV).
cat >/etc/shellrc <<'RC'
PS1='drvcore:\w# '
# What lspci -nnk would say, from sysfs: address, class, vendor:device, driver.
lspci() {
	local d drv
	for d in /sys/bus/pci/devices/*; do
		drv=
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		printf '%s  class %s  %s:%s  %s\n' "${d##*/}" "$(cut -c3-6 "$d/class")" \
			"$(cut -c3- "$d/vendor")" "$(cut -c3- "$d/device")" "${drv:+driver $drv}"
	done
}
# /init is no init daemon: power off (or reset, which -no-reboot turns into
# QEMU's exit) at once.
poweroff() { busybox poweroff -f; }
halt() { busybox poweroff -f; }
reboot() { busybox reboot -f; }
shell_help() { cat /etc/banner; }
RC
export ENV=/etc/shellrc

edu=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] && edu="$edu ${d##*/}"
done
first=${edu# }
first=${first%% *}
[ -n "$first" ] || first=BDF
{
	echo "==== drvcore shell: Linux $krel ($(uname -m))${what:+, $what} ===="
	echo "edu devices (1234:11e8):${edu:- none}"
	echo "modules in /modules (-> /lib/modules/$krel/extra, depmod's index):"
	for m in /modules/*.ko; do
		[ -e "$m" ] && echo "    ${m##*/}"
	done
	D=/sys/bus/pci/drivers/rust_driver_edu
	cat <<EOF
load      insmod /modules/rust_driver_edu.ko    (or: modprobe rust_driver_edu,
          or by alias: modprobe \$(cat /sys/bus/pci/devices/$first/modalias))
devices   lspci    (from /sys/bus/pci/devices/*: vendor, device, class, driver)
bound     ls -l $D/
unbind    echo $first > $D/unbind
bind      echo $first > $D/bind
unload    rmmod rust_driver_edu
log       dmesg    (the driver's lines also appear here: console log level 7)
leave     poweroff, exit or Ctrl-D; Ctrl-A X quits QEMU at once
          (Ctrl-A C: QEMU monitor and back; Ctrl-A H: the keys)
again     shell_help
EOF
} >/etc/banner

# Quiet boot, talkative driver: from here on dev_info! reaches the console.
dmesg -n 7
cat /etc/banner
# A session of its own with the serial port as controlling terminal, so that
# Ctrl-C and Ctrl-Z reach the command running in the shell.
setsid cttyhack sh
busybox poweroff -f
INIT

what="$SHELL_EDU edu, $SHELL_SMP CPUs, ${SHELL_MEM} MiB"
[ "$SHELL_DEBUG" = 0 ] || what+=", debug kernel"
rows= cols=
if [ -t 0 ] && size=$(stty size 2>/dev/null) && [ -n "$size" ]; then
	read -r rows cols <<<"$size"
fi
term=${TERM:-vt100}
case $term in dumb | '') term=vt100 ;; esac

step "building the initramfs (${modules[*]}, installed for $KREL)"
# Its output (depmod's warnings about the index files of a whole kernel
# installation, which an initramfs has no use for) only if it fails.
if ! out=$(INITRAMFS_KREL=$KREL make_initramfs "$WORK" "$init" "${modules[@]}" 2>&1); then
	printf '%s\n' "$out" >&2
	die "could not build the initramfs"
fi

append="console=$CONSOLE kunit.enable=0 panic=-1 quiet$append_debug"
append+=" shell.term=$term shell.what=${what// /_}"
[ -z "$rows" ] || append+=" shell.rows=$rows shell.cols=$cols"
[ -z "$SHELL_APPEND" ] || append+=" $SHELL_APPEND"
qemu=()
[ "$SHELL_TIMEOUT" = 0 ] || qemu+=(timeout --foreground -k 5 "$SHELL_TIMEOUT")
# The console: this terminal, with QEMU's monitor multiplexed on it (what
# -serial mon:stdio makes: Ctrl-A X, Ctrl-A C; Ctrl-C goes to the guest), and
# a copy of the guest's output in the work directory.
qemu+=("$QEMU" -nodefaults -accel tcg -no-reboot -nographic
	-chardev "stdio,id=console,mux=on,signal=off,logfile=$WORK/console.log"
	-serial chardev:console -mon chardev=console -pidfile "$WORK/qemu.pid"
	-smp "$SHELL_SMP" -m "$SHELL_MEM")
for ((i = 0; i < SHELL_EDU; i++)); do
	qemu+=(-device edu)
done
qemu+=(-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "$append")
# QEMU_MACHINE and SHELL_QEMU_ARGS are split at white space, the rest quoted.
cmd="$(printf '%q ' "${qemu[@]}") $QEMU_MACHINE $SHELL_QEMU_ARGS"

step "booting $KERNEL ($DRVCORE_ARCH, $what; TCG): Ctrl-A X or poweroff ends it"
start=$SECONDS
rc=0
# In the background, so that a signal to this script is handled at once (and
# stops QEMU by its pid); its input is this script's, explicitly, as a
# background job's would otherwise be /dev/null.
if [ -t 0 ]; then
	in_root "$cmd" <&0 &
else
	# Input that is no terminal (commands piped in) is held back until the
	# guest's /init has printed its banner: what reaches the serial port
	# before the kernel has opened it is lost (x86_64's 8250 drops the
	# first few characters, arm64's PL011 stalls on the first one and takes
	# nothing more). Then the lines go on as typed ahead, and when the input
	# ends the shell gets an "exit", as a terminal's Ctrl-D would end it.
	# The feeder is one process (no cat), stopped with QEMU at the end:
	# the input's writer may hold the pipe open. The shell's line editing
	# asks the terminal for the cursor position (ESC [6n) whenever it waits
	# for input; no terminal answers here (or, with the output on one, the
	# answer would land in the host shell's input): those requests are
	# taken out, and QEMU's exit status comes through a file.
	mkfifo "$ROOT$WORK/input"
	{
		until grep -qa '^==== drvcore shell' "$ROOT$WORK/console.log" 2>/dev/null; do
			sleep 0.1
		done
		while IFS= read -r line; do
			printf '%s\n' "$line"
		done
		[ -z "$line" ] || printf '%s\n' "$line"
		printf 'exit\n'
	} <&0 >"$ROOT$WORK/input" &
	feeder=$!
	in_root "$cmd; echo \$? >$WORK/qemu.rc" <"$ROOT$WORK/input" | sed -u 's/\x1b\[6n//g' &
fi
wait $! || rc=$?
[ -t 0 ] || rc=$(cat "$ROOT$WORK/qemu.rc" 2>/dev/null) || rc=1
printf '\n==> QEMU ended after %d s (exit status %d)\n' $((SECONDS - start)) "$rc"
exit "$rc"
