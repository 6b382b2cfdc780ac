#!/usr/bin/env bash
# Lay out the kernel work tree in the cache: the pristine 6.12 source as the
# first commit (tag "base"), the patch series for files the base already has
# applied on top, and the files this project owns copied from their kernel
# paths in this repository. Unchanged files keep their time stamps, so an
# incremental build rebuilds only what changed.
. "$(dirname "$0")/lib.sh"

L=$ROOT$KSRC
GIT=(git -C "$L" -c user.name=drvcore -c user.email=drvcore@localhost -c core.hooksPath=/dev/null)
OVERLAY_DIRS=(rust samples Documentation)

if [ ! -d "$L/.git" ]; then
	step "unpacking linux-source-6.12 into the cache"
	rm -rf "$L" "$ROOT/build/linux-source-6.12"
	mkdir -p "$ROOT/build"
	tar -xf "$ROOT"/usr/src/linux-source-6.12.tar.xz -C "$ROOT/build"
	mv "$ROOT/build/linux-source-6.12" "$L"
	"${GIT[@]}" init -q -b main
	"${GIT[@]}" add -f -A
	"${GIT[@]}" commit -q -m "Linux $(make -s -C "$L" kernelversion 2>/dev/null || echo 6.12)"
	"${GIT[@]}" tag base
fi
grep -q '^VERSION = 6$' "$L/Makefile" && grep -q '^PATCHLEVEL = 12$' "$L/Makefile" ||
	die "$L is not a 6.12 source tree"

# The patch series: reapplied onto the base whenever it changes.
sum=$( (cat "$TOP"/patches/*.patch 2>/dev/null || true) | sha256sum | cut -d" " -f1)
if [ "$sum" != "$(cat "$L/.git/drvcore-patches" 2>/dev/null)" ]; then
	step "applying patches/ onto the base"
	"${GIT[@]}" reset -q --hard base
	"${GIT[@]}" clean -fdq
	rm -f "$L/.git/drvcore-overlay"
	for p in "$TOP"/patches/*.patch; do
		[ -e "$p" ] || continue
		"${GIT[@]}" am -q "$p" || { "${GIT[@]}" am --abort; die "patch $(basename "$p") does not apply"; }
	done
	echo "$sum" >"$L/.git/drvcore-patches"
fi

# The owned files: copy what differs, restore what the repo no longer has.
step "syncing the overlay into the kernel tree"
new=$(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}" | sort)
n=0
while IFS= read -r f; do
	[ -n "$f" ] || continue
	if ! cmp -s "$TOP/$f" "$L/$f"; then
		mkdir -p "$(dirname "$L/$f")"
		cp "$TOP/$f" "$L/$f"
		n=$((n + 1))
	fi
done <<<"$new"
if [ -f "$L/.git/drvcore-overlay" ]; then
	comm -23 "$L/.git/drvcore-overlay" <(echo "$new") | while IFS= read -r f; do
		if "${GIT[@]}" cat-file -e "HEAD:$f" 2>/dev/null; then
			"${GIT[@]}" checkout -q HEAD -- "$f"
		else
			rm -f "$L/$f"
		fi
	done
fi
echo "$new" >"$L/.git/drvcore-overlay"
printf '    %d file(s) updated\n' "$n"

# The configuration fragments, where the build inside the root finds them.
mkdir -p "$ROOT/build/config"
for f in "$TOP"/configs/*; do
	cmp -s "$f" "$ROOT/build/config/$(basename "$f")" || cp "$f" "$ROOT/build/config/"
done
