#!/usr/bin/env bash
# Write rust-project.json, rust-analyzer's description of the kernel's Rust
# crates, at the root of this checkout, for editors on the host.
#
# The kernel makes it (`make rust-analyzer`, scripts/generate_rust_analyzer.py)
# inside the root, for the x86_64 build in KOUT (/build/out) and its .config,
# with kunit.py's make options; it lands in KOUT/rust-project.json with paths
# as the root sees them. Here each path is made a host path: a file of the
# tree that this project owns (a file of the overlay, as tree.sh copies it)
# becomes the file in this checkout; every other path under the tree
# ($KSRC), under the build ($KOUT: the generated bindings the crates
# include!, the macros crate's libmacros.so) or under /usr (Rust's library
# sources) becomes the same path under the root ($DRVCORE_CACHE/trixie).
# rust-analyzer finds a crate's modules by path from its root module, and the
# roots of the crates in which this project owns files (kernel's lib.rs,
# macros' lib.rs) are the base's, patched, so they exist in the tree only.
# Those crates get their root from FARM ($DRVCORE_CACHE/rust-analyzer/farm,
# made again on every call): a mirror of the crate's directory in the tree
# (rust/kernel, rust/macros) in real directories, each file a symlink to the
# checkout's file where this project owns the path, else to the tree's.
# kernel::devres is then FARM/rust/kernel/devres.rs, a symlink to the
# checkout's rust/kernel/devres.rs, and the crate's include_dirs (the files
# rust-analyzer loads for it) are the farm's directory instead of the tree's.
#
# The sysroot: rust-analyzer runs the sysroot's rustc (for the target's cfgs
# and data layout) and its proc-macro server (for the macros crate, built by
# the root's rustc 1.85, whose server alone can load it). The root's binaries
# need the root's libraries, so the sysroot is SYSROOT_SHIM
# ($DRVCORE_CACHE/rust-analyzer/sysroot): bin/rustc and
# libexec/rust-analyzer-proc-macro-srv run the root's binaries with the root's
# dynamic loader and libraries, lib/rustlib is the root's; sysroot_src is the
# root's library source. Two more changes make rust-analyzer see what kbuild
# compiles: the kernel's own entries for the sysroot's crates (core, alloc,
# std, proc_macro) become the sysroot's (sysroot_project), which
# rust-analyzer gives every crate (left as crates of the project they make two
# cores, and no inherent method of a slice, str or pointer is known; without
# them rust-analyzer asks `cargo metadata` about the library, which fails
# here, and std and proc_macro resolve nothing in the macros crate), and the
# crates on top of the kernel crate (samples, drivers) get kbuild's
# `-Zcrate-attr=no_std` (crate_attrs), without which they have no prelude
# (no Ok, no derive).
#
# The result is checked: every path in it exists on the host. Prints the
# number of crates.
#
#   scripts/rust-analyzer.sh
#
# Environment: DRVCORE_CACHE (see lib.sh); BUILD_LOCK, the lock file taken
# around the make in the root, which other builds of the same build directory
# take too (default /tmp/drvcore-build.lock); RA_CHECK=1 then also asks
# rust-analyzer (from PATH or ~/.cargo/bin, or RUST_ANALYZER) where the
# `Devres` of the edu sample's `use kernel::{..., devres::Devres, ...}` is
# defined, through tests/rust-analyzer/lsp_check.py, which must find a path
# whose real path is the checkout's rust/kernel/devres.rs, and no error in the
# checkout's files, within RA_TIMEOUT seconds (default 300).
. "$(dirname "$0")/lib.sh"

[ "$DRVCORE_ARCH" = x86_64 ] || die "rust-project.json is made for the x86_64 build only"
[ -f "$ROOT$KOUT/.config" ] || die "no build in $ROOT$KOUT (run make build first)"
BUILD_LOCK=${BUILD_LOCK:-/tmp/drvcore-build.lock}
OUT=$TOP/rust-project.json
SYSROOT_SHIM=$CACHE/rust-analyzer/sysroot
FARM=$CACHE/rust-analyzer/farm
# The directories whose files tree.sh copies into the tree.
OVERLAY_DIRS=(rust samples Documentation)

start=$SECONDS
step "make rust-analyzer in $KOUT"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
exec {lock}>"$BUILD_LOCK"
flock "$lock"
printf '    build lock taken after %d s\n' $((SECONDS - start))
rm -f "$ROOT$KOUT/rust-project.json"
rc=0
in_root "cd $KSRC && make ARCH=x86_64 LLVM=1 O=$KOUT rust-analyzer" || rc=$?
cp "$ROOT$KOUT/rust-project.json" "$tmp" 2>/dev/null || rc=1
exec {lock}>&-
[ $rc -eq 0 ] && [ -s "$tmp" ] || die "make rust-analyzer failed"

# The host's view of the root's sysroot (see above).
mkdir -p "$SYSROOT_SHIM"/{bin,libexec,lib}
ln -sfn "$ROOT/usr/lib/rustlib" "$SYSROOT_SHIM/lib/rustlib"
for tool in bin/rustc libexec/rust-analyzer-proc-macro-srv; do
	[ -x "$ROOT/usr/$tool" ] || die "no $tool in the root"
	printf '#!/bin/sh\nexec "%s/lib64/ld-linux-x86-64.so.2" --library-path "%s" "%s" "$@"\n' "$ROOT" \
		"$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu" "$ROOT/usr/$tool" >"$SYSROOT_SHIM/$tool"
	chmod +x "$SYSROOT_SHIM/$tool"
done
"$SYSROOT_SHIM/bin/rustc" --version >/dev/null || die "the root's rustc does not run through $SYSROOT_SHIM/bin/rustc"

step "rewriting its paths for the host into $OUT"
python3 - "$tmp" "$OUT" "$TOP" "$ROOT" "$KSRC" "$KOUT" "$SYSROOT_SHIM" "$FARM" \
	<(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}") <<'EOF'
import json, os, re, shutil, sys

src, out, top, root, ksrc, kout, shim, farm, owned_list = sys.argv[1:]
owned = set(open(owned_list).read().split("\n")) - {""}
prefixes = (ksrc, kout, "/usr")
rewritten, absolute = [], []

def host(p):
    # A path inside the root, as the host sees it; anything else as it is.
    if not any(p == d or p.startswith(d + "/") for d in prefixes):
        return p
    rel = p[len(ksrc) + 1:] if p.startswith(ksrc + "/") else None
    if rel in owned and os.path.isfile(os.path.join(top, rel)):
        p = os.path.join(top, rel)
    else:
        p = root + p
    rewritten.append(p)
    return p

def walk(v, key=None):
    if isinstance(v, dict):
        return {k: walk(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x, key) for x in v]
    if isinstance(v, str):
        # cfg entries carry values as name="value".
        m = re.fullmatch(r'([A-Za-z0-9_]+)="(.*)"', v) if key == "cfg" else None
        if m:
            return f'{m[1]}="{host(m[2])}"'
        v = host(v)
        if v.startswith("/"):
            absolute.append(v)
    return v

project = json.load(open(src))
# The farm (see above), for each crate rooted in a directory rust/X of the
# tree in which this project owns a file; its root module and include_dirs
# move there.
shutil.rmtree(farm, ignore_errors=True)
farmed, links, ours_links = [], 0, 0
for c in project["crates"]:
    d = os.path.dirname(c["root_module"])[len(ksrc) + 1:]
    if not c["root_module"].startswith(ksrc + "/rust/") or d == "rust" or \
            not any(f.startswith(d + "/") for f in owned):
        continue
    files = {os.path.relpath(os.path.join(w, f), root + ksrc) for w, _, fs in os.walk(root + ksrc + "/" + d) for f in fs}
    for rel in sorted(files | {f for f in owned if f.startswith(d + "/") and os.path.isfile(os.path.join(top, f))}):
        mine = rel in owned and os.path.isfile(os.path.join(top, rel))
        os.makedirs(os.path.dirname(os.path.join(farm, rel)), exist_ok=True)
        os.symlink(os.path.join(top, rel) if mine else root + ksrc + "/" + rel, os.path.join(farm, rel))
        links, ours_links = links + 1, ours_links + mine
    c["root_module"] = os.path.join(farm, c["root_module"][len(ksrc) + 1:])
    c.setdefault("source", {"include_dirs": [ksrc + "/" + d], "exclude_dirs": []})
    c["source"]["include_dirs"] = [os.path.join(farm, d) if i == ksrc + "/" + d else i for i in c["source"]["include_dirs"]]
    farmed.append(c["display_name"])
print(f"    farm {farm}: {', '.join(farmed)}; {links} files ({ours_links} of the checkout)")
project = walk(project)
made = len(project["crates"])
# The sysroot, and its library sources: where core's root module is
# (.../library/core/src/lib.rs).
project["sysroot"] = shim
core = next(c for c in project["crates"] if c["display_name"] == "core")
library = project["sysroot_src"] = os.path.dirname(os.path.dirname(os.path.dirname(core["root_module"])))
absolute += [shim, library]
# The kernel lists the sysroot's crates (core, alloc, std, proc_macro) as
# crates of its own: they become the sysroot's (see above).
crates = project["crates"]
keep = [i for i, c in enumerate(crates) if not c["root_module"].startswith(library + "/")]
index = {old: new for new, old in enumerate(keep)}
lib = [i for i in range(len(crates)) if i not in index]
project["sysroot_project"] = {"crates": [dict(crates[i], deps=[dict(d, crate=lib.index(d["crate"]))
                                                               for d in crates[i]["deps"]]) for i in lib]}
for i in keep:
    crates[i]["deps"] = [dict(d, crate=index[d["crate"]]) for d in crates[i]["deps"] if d["crate"] in index]
    # The crates on top of the kernel crate (samples, drivers): kbuild
    # compiles them with -Zcrate-attr=no_std.
    if any(d["name"] == "kernel" for d in crates[i]["deps"]):
        crates[i]["crate_attrs"] = ["no_std"]
project["crates"] = [crates[i] for i in keep]
# Every path: the rewritten ones (cfg values too) and any other absolute one.
missing = sorted({p for p in rewritten + absolute if not os.path.exists(p)})
for p in missing:
    print(f"    missing on the host: {p}")
with open(out + ".new", "w") as f:
    json.dump(project, f, indent=4, sort_keys=True)
    f.write("\n")
os.replace(out + ".new", out)
ours = sum(p.startswith(top + "/") for p in rewritten)
print(f"    {made} crates from the kernel, {len(project['crates'])} written (and the sysroot's "
      f"{len(lib)}), {len(rewritten)} paths rewritten ({ours} into the checkout), {len(missing)} missing")
sys.exit(1 if missing else 0)
EOF
printf '    done in %d s\n' $((SECONDS - start))

if [ "${RA_CHECK:-0}" = 1 ]; then
	step "rust-analyzer: where is the edu sample's Devres defined?"
	python3 "$TOP/tests/rust-analyzer/lsp_check.py" "$TOP" "${RA_TIMEOUT:-300}"
	printf '    done in %d s\n' $((SECONDS - start))
fi
