#!/usr/bin/env bash
# Export the project as a git format-patch series against the pristine 6.12
# base: first the files the project owns (nothing references them yet, so the
# tree still builds), then the patches/ series that wires them in.
# The MAINTAINERS entry, kept in patches/ like any edit of a base file, is
# folded into that first commit, which adds the files it lists.
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
maintainers=
for p in "$TOP"/patches/*.patch; do
	if [ "$(grep -c '^diff --git' "$p")" = 1 ] && grep -q '^diff --git a/MAINTAINERS ' "$p"; then
		maintainers=$p
	fi
done
if [ -n "$maintainers" ]; then
	"${GIT[@]}" apply --index "$maintainers"
fi
mapfile -t files <"$L/.git/drvcore-overlay"
for f in "${files[@]}"; do
	mkdir -p "$tmp/linux/$(dirname "$f")"
	cp "$TOP/$f" "$tmp/linux/$f"
done
"${GIT[@]}" add -f -- "${files[@]}"
"${GIT[@]}" commit -q -s -F - <<MSG
rust: add driver-core abstractions: devices, Devres, DMA, io-pgtable

Add the Rust abstractions that let a driver hold a device, own resources
that die with its binding, do DMA and build IOMMU-format page tables,
with the calls that would happen outside the driver's lifetime refused
at compile time:

- device: Device<Ctx> over struct device with the contexts Normal,
  Bound and Core, the RawDevice trait and the dev_*!() macros;
- device_id, driver, pci: id tables with per-entry data, generic driver
  registration, PCI drivers and BAR mappings;
- io: MMIO accessors with compile-time and run-time bounds checks;
- sync::rcu, revocable, devres: values revoked and dropped at unbind,
  reachable without locks through the bound device;
- dma: DMA masks, coherent allocations and streaming mappings;
- io_pgtable: ARM LPAE, ARMv7s and Apple DART page tables with driver
  TLB callbacks and validated map, unmap and translate;
- kunit: KUnit suites written in Rust for all of the above;

a sample driver for QEMU's edu device, the C helpers for static inline
functions, a guide in Documentation/rust/driver-core.rst, and their
MAINTAINERS entry. Nothing references the new files yet; the following
patches wire them into the build.
MSG
for p in "$TOP"/patches/*.patch; do
	[ -e "$p" ] && [ "$p" != "$maintainers" ] || continue
	# patches/ is written by the tree's internal identity: export under the
	# exporter's, signed off by it.
	sed -e '/^Signed-off-by: drvcore </d' \
		-e "s/^From: drvcore <drvcore@localhost>\$/From: $name <$email>/" "$p" |
		"${GIT[@]}" am -q --signoff
done
rm -rf "$out"
"${GIT[@]}" format-patch -q -o "$out" base..export
ls "$out"
