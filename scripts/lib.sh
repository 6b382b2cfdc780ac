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
