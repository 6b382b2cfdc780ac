# Common settings for the project's scripts; sourced, not run.
# shellcheck shell=bash

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DRVCORE_CACHE:-/var/cache/drvcore}
ROOT=$CACHE/trixie
# Paths as seen from inside the root.
KSRC=/build/linux
KOUT=/build/out
JOBS=${JOBS:-$(nproc)}

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command inside the root with /proc, /sys, /dev and /dev/pts mounted,
# unmounting on exit whatever this call mounted.
in_root() {
	local mounted=() m
	for m in proc sys dev dev/pts; do
		if ! mountpoint -q "$ROOT/$m"; then
			case $m in
			proc) mount -t proc proc "$ROOT/proc" ;;
			*) mount --bind "/$m" "$ROOT/$m" ;;
			esac
			mounted=("$m" "${mounted[@]}")
		fi
	done
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
	local rc=0
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		/bin/bash -c "$*" || rc=$?
	for m in "${mounted[@]}"; do
		umount -l "$ROOT/$m" || true
	done
	return $rc
}
