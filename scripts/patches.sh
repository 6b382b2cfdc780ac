#!/usr/bin/env bash
# Export the project as a git format-patch series against the pristine 6.12
# base, one commit per patch of patches/: each commit adds the files this
# project owns that the table below assigns to its subject, together with the
# edits of base files (mod lines, helper includes, Kconfig, ...) that wire
# them in, so that every commit of the series builds (scripts/bisect.sh checks
# it). The MAINTAINERS entry, kept in patches/ like any edit of a base file, is
# folded into the series: each commit adds the entry's F: lines of the files
# it adds, the first one the entry itself.
# Reads patches/ and the owned files from this repository and the base from
# the kernel tree's git objects; the kernel tree itself is left as it is.
# Output: out/patches/ in this repository.
. "$(dirname "$0")/lib.sh"

# The owned files, by the subject of the patch whose commit adds them (bash
# patterns, "*" matches "/" too). Every owned file must match exactly one.
declare -A ADDS=(
	["rust: device: add device contexts and the RawDevice trait"]="
		rust/kernel/device.rs rust/helpers/device.c"
	["rust: add an RCU read guard, Revocable and Devres"]="
		rust/kernel/sync/rcu.rs rust/kernel/revocable.rs rust/kernel/devres.rs
		rust/helpers/rcu.c rust/helpers/completion.c"
	["rust: add MMIO accessors"]="
		rust/kernel/io.rs rust/helpers/io.c"
	["rust: add device id tables, driver registration and PCI drivers"]="
		rust/kernel/device_id.rs rust/kernel/driver.rs rust/kernel/driver/unbind.rs rust/kernel/pci.rs
		rust/kernel/pci/config.rs rust/helpers/pci.c"
	["rust: macros: derive FromBytes and AsBytes"]="
		rust/macros/plain_data.rs"
	["rust: add DMA masks, coherent allocations and streaming mappings"]="
		rust/kernel/dma.rs rust/kernel/dma/coherent.rs rust/kernel/dma/mapping.rs
		rust/kernel/dma/mask.rs rust/kernel/dma/pool.rs rust/kernel/dma/project.rs
		rust/kernel/dma/sg.rs rust/kernel/dma/streaming.rs rust/helpers/dma.c
		rust/helpers/scatterlist.c"
	["rust: add io-pgtable page tables for device MMUs"]="
		rust/kernel/io_pgtable.rs rust/helpers/io_pgtable.c"
	["rust: add msleep() and the ETIMEDOUT error code"]="
		rust/kernel/delay.rs"
	["rust: kunit: add a test handle and kernel threads for tests"]="
		rust/kernel/kunit/suite.rs rust/kernel/kunit/thread.rs"
	["rust: add KUnit suites for the driver-core abstractions"]="
		rust/kernel/pci/*tests.rs rust/kernel/pci/testing.rs rust/kernel/pci/bad_inputs.rs
		rust/kernel/driver/generic_tests.rs
		rust/kernel/devres/* rust/kernel/dma/*tests.rs rust/kernel/io_pgtable/*"
	["samples: rust: add a PCI driver for QEMU's edu device"]="
		samples/rust/rust_driver_edu.rs"
	["Documentation: rust: add a guide to the driver-core abstractions"]="
		Documentation/rust/driver-core.rst"
	["rust: sync: add Completion"]="
		rust/kernel/sync/completion.rs"
	["rust: sync: add SpinLockIrq"]="
		rust/kernel/sync/lock/spinlock_irq.rs"
	["rust: add interrupt handlers, PCI interrupt vectors and bound work"]="
		rust/kernel/irq.rs rust/kernel/irq/*"
	["rust: add platform drivers"]="
		rust/kernel/platform.rs rust/kernel/platform/* rust/kernel/of.rs rust/kernel/acpi.rs
		rust/helpers/ioport.c"
)
OVERLAY_DIRS=(rust samples Documentation)

L=$ROOT$KSRC
[ -d "$L/.git" ] || "$TOP/scripts/tree.sh" >/dev/null
out=$TOP/out/patches
name=$(git -C "$TOP" config user.name || echo "Rust driver-core maintainers")
email=$(git -C "$TOP" config user.email || echo "rust-for-linux@vger.kernel.org")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

subject_of() { git mailinfo /dev/null /dev/null <"$1" | sed -n 's/^Subject: //p'; }

# The MAINTAINERS patch, and the files each other patch adds.
maintainers=
declare -A files_of=()
for p in "$TOP"/patches/*.patch; do
	[ -e "$p" ] || continue
	if [ "$(grep -c '^diff --git' "$p")" = 1 ] && grep -q '^diff --git a/MAINTAINERS ' "$p"; then
		maintainers=$p
		continue
	fi
	s=$(subject_of "$p")
	files_of[$s]=
done
for s in "${!ADDS[@]}"; do
	[ -n "${files_of[$s]+set}" ] || die "patches.sh assigns files to \"$s\", which no patch in patches/ has"
done
mapfile -t owned < <(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}" | sort)
for f in "${owned[@]}"; do
	hit=
	for s in "${!ADDS[@]}"; do
		for pat in ${ADDS[$s]}; do
			# shellcheck disable=SC2053 # a pattern
			if [[ $f == $pat ]]; then
				[ -z "$hit" ] || [ "$hit" = "$s" ] || die "$f is assigned to both \"$hit\" and \"$s\""
				hit=$s
			fi
		done
	done
	[ -n "$hit" ] || die "$f is assigned to no patch: add it to ADDS in scripts/patches.sh"
	files_of[$hit]+=" $f"
done

step "exporting the series against the base"
git clone -q --shared --no-checkout "$L" "$tmp/linux"
GIT=(git -C "$tmp/linux" -c user.name="$name" -c user.email="$email" -c core.hooksPath=/dev/null)
"${GIT[@]}" checkout -q -b export base

# MAINTAINERS: the whole entry, and the file with it; each commit gets the
# entry with the F: lines whose files exist at that commit.
if [ -n "$maintainers" ]; then
	"${GIT[@]}" apply "$maintainers"
	cp "$tmp/linux/MAINTAINERS" "$tmp/MAINTAINERS.full"
	"${GIT[@]}" checkout -q -- MAINTAINERS
	header=$(grep -m1 '^+[^+]' "$maintainers" | cut -c2-)
	[ -n "$header" ] && grep -qxF "$header" "$tmp/MAINTAINERS.full" ||
		die "no MAINTAINERS entry found in $(basename "$maintainers")"
fi
maintainers_now() {
	local keep=$tmp/keep pat
	: >"$keep"
	while IFS= read -r pat; do
		# A directory pattern ends in "/", which compgen would match as it is.
		if compgen -G "$tmp/linux/${pat%/}" >/dev/null; then
			echo "F:	$pat" >>"$keep"
		fi
	done < <(awk -v h="$header" '$0 == h { e = 1; next } e && /^$/ { exit } e && /^F:\t/ { print substr($0, 4) }' \
		"$tmp/MAINTAINERS.full")
	# Without a file of its own yet, the entry is left out, with its blank line.
	awk -v h="$header" -v keep="$keep" '
		BEGIN { while ((getline l < keep) > 0) k[l] = 1 }
		$0 == h { e = 1; buf = $0 "\n"; next }
		e && /^$/ { e = 0; if (n) printf "%s\n", buf; next }
		e && /^F:\t/ { if ($0 in k) { buf = buf $0 "\n"; n++ } next }
		e { buf = buf $0 "\n"; next }
		{ print }' "$tmp/MAINTAINERS.full" >"$tmp/linux/MAINTAINERS"
}

for p in "$TOP"/patches/*.patch; do
	[ -e "$p" ] && [ "$p" != "$maintainers" ] || continue
	# patches/ is written by the tree's internal identity: export under the
	# exporter's, signed off by it.
	sed -e '/^Signed-off-by: drvcore </d' \
		-e "s/^From: drvcore <drvcore@localhost>\$/From: $name <$email>/" "$p" |
		"${GIT[@]}" am -q --signoff
	s=$(subject_of "$p")
	read -ra add <<<"${files_of[$s]}"
	for f in "${add[@]}"; do
		mkdir -p "$tmp/linux/$(dirname "$f")"
		cp "$TOP/$f" "$tmp/linux/$f"
	done
	[ -z "$maintainers" ] || { maintainers_now; add+=(MAINTAINERS); }
	if [ ${#add[@]} -gt 0 ]; then
		"${GIT[@]}" add -f -- "${add[@]}"
		"${GIT[@]}" commit -q --amend --no-edit
	fi
done
if [ -n "$maintainers" ] && ! cmp -s "$tmp/MAINTAINERS.full" "$tmp/linux/MAINTAINERS"; then
	diff -u "$tmp/MAINTAINERS.full" "$tmp/linux/MAINTAINERS" | sed -n '/^[-+]F:/p' >&2
	die "the MAINTAINERS entry lists files that no commit of the series adds"
fi
rm -rf "$out"
"${GIT[@]}" format-patch -q -o "$out" base..export
ls "$out"
