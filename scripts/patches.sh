#!/usr/bin/env bash
# Export the project as a git format-patch series against the pristine 6.12
# base: first the files the project owns (nothing references them yet, so the
# tree still builds), then the patches/ series that wires them in.
# Output: out/patches/ in this repository.
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/tree.sh" >/dev/null
L=$ROOT$KSRC
out=$TOP/out/patches
name=$(git -C "$TOP" config user.name || echo "Rust driver-core maintainers")
email=$(git -C "$TOP" config user.email || echo "rust-for-linux@vger.kernel.org")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "exporting the series against the base"
git clone -q --shared --no-checkout "$L" "$tmp/linux"
GIT=(git -C "$tmp/linux" -c user.name="$name" -c user.email="$email" -c core.hooksPath=/dev/null)
"${GIT[@]}" checkout -q -b export base
mapfile -t files <"$L/.git/drvcore-overlay"
for f in "${files[@]}"; do
	mkdir -p "$tmp/linux/$(dirname "$f")"
	cp "$TOP/$f" "$tmp/linux/$f"
done
"${GIT[@]}" add -f -- "${files[@]}"
"${GIT[@]}" commit -q -s -F - <<MSG
rust: add driver-core abstractions for devices, drivers, MMIO and PCI

Add the Rust abstractions that let a driver hold a device, bind to a
PCI device and access its memory BARs:

- device: Device<Ctx> over struct device with the contexts Normal,
  Bound and Core, the RawDevice trait and the dev_*!() macros;
- device_id: id tables with per-entry driver data;
- driver: generic driver registration;
- io: MMIO accessors with compile-time and run-time bounds checks;
- pci: PCI drivers, devices and BAR mappings;
- kunit: KUnit suites written in Rust, and a suite for the PCI glue;

and a sample driver for QEMU's edu device. Nothing references the new
files yet; the following patches wire them into the build.
MSG
for p in "$TOP"/patches/*.patch; do
	[ -e "$p" ] || continue
	"${GIT[@]}" am -q "$p"
done
rm -rf "$out"
"${GIT[@]}" format-patch -q -o "$out" base..export
ls "$out"
