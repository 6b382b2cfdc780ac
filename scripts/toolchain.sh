#!/usr/bin/env bash
# Provision the build root: a minimal Debian trixie with its matched Rust and
# LLVM toolchain and the 6.12 kernel source. Nothing from trixie is installed
# on the host. Reused when present; versions are checked on every call.
. "$(dirname "$0")/lib.sh"

MIRROR=${DRVCORE_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(
	rustc rust-src rustfmt rust-clippy bindgen libclang-dev
	clang lld llvm
	linux-source-6.12
	make bc bison flex cpio kmod xz-utils zstd libelf-dev libssl-dev
	python3 perl git ca-certificates
	qemu-system-x86 qemu-system-arm busybox-static
	python3-sphinx python3-ply python3-git python3-yaml
)

if [ ! -e "$ROOT/.provisioned" ]; then
	[ "$(id -u)" = 0 ] || die "provisioning needs root (debootstrap, chroot)"
	if ! command -v debootstrap >/dev/null; then
		step "installing debootstrap on the host"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	fi
	step "debootstrap trixie into $ROOT"
	rm -rf "$ROOT"
	mkdir -p "$CACHE"
	debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed"; }
	step "installing the toolchain packages in the root"
	in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}" \
		>"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log"; die "package install failed"; }
	touch "$ROOT/.provisioned"
fi

# A root provisioned before a package joined the list gets it now.
missing=()
for p in "${PACKAGES[@]}"; do
	chroot "$ROOT" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	step "installing ${missing[*]} in the root"
	in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]}" \
		>>"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log"; die "package install failed"; }
fi

# The arm64 guests' busybox (the initramfs of the arm64 boots): Debian's
# busybox-static for arm64, unpacked beside the root's own, not installed.
if [ ! -x "$ROOT$BUSYBOX_ARM64" ]; then
	step "unpacking busybox-static:arm64 into $ROOT${BUSYBOX_ARM64%/usr/bin/busybox}"
	in_root "dpkg --add-architecture arm64 && apt-get update -qq && cd /tmp && rm -f busybox-static_*_arm64.deb &&
		apt-get download -qq busybox-static:arm64 &&
		dpkg-deb -x busybox-static_*_arm64.deb ${BUSYBOX_ARM64%/usr/bin/busybox} && rm -f busybox-static_*_arm64.deb" \
		>>"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log"; die "could not fetch busybox-static:arm64"; }
	[ -x "$ROOT$BUSYBOX_ARM64" ] || die "no $BUSYBOX_ARM64 in busybox-static:arm64"
fi

step "checking toolchain versions"
rustc_v=$(chroot "$ROOT" rustc --version)
case $rustc_v in
"rustc 1.85."*) ;;
*) die "the root has '$rustc_v'; this project is built with rustc 1.85 (rm -rf $ROOT to provision again)" ;;
esac
src=$(ls "$ROOT"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -1)
case $src in
*/linux-source-6.12.tar.xz) ;;
*) die "no linux-source-6.12 tarball in $ROOT/usr/src (found '${src:-nothing}')" ;;
esac
printf '    %s, %s, %s\n' "$rustc_v" "$(chroot "$ROOT" bindgen --version)" \
	"$(chroot "$ROOT" clang --version | head -1)"
