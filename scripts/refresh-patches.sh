#!/usr/bin/env bash
# Write the commits on top of "base" in the kernel tree back into patches/.
# Workflow for an edit to a file the base already has: edit it in the tree
# ($DRVCORE_CACHE/trixie/build/linux), commit only that file there (the
# overlay files show as changes too; leave them out), then run this.
# scripts/patches.sh adds the owned files to the exported commits by the
# subjects of these patches: a new or renamed subject needs its entry there.
. "$(dirname "$0")/lib.sh"

L=$ROOT$KSRC
rm -f "$TOP"/patches/*.patch
git -C "$L" format-patch -q --zero-commit --no-signature -o "$TOP/patches" base..
# The tree already has these commits: record them as applied.
(cat "$TOP"/patches/*.patch 2>/dev/null || true) | sha256sum | cut -d" " -f1 >"$L/.git/drvcore-patches"
ls "$TOP/patches"
