#!/usr/bin/env bash
# Format the project's Rust files with the kernel's rustfmt settings, in place
# in this repository (the tree in the cache gets them at the next sync).
. "$(dirname "$0")/lib.sh"

tmp=$ROOT/build/fmt
rm -rf "$tmp"
mkdir -p "$tmp"
mapfile -t files < <(cd "$TOP" && git ls-files --cached --others --exclude-standard -- 'rust/*.rs' 'samples/*.rs')
[ ${#files[@]} -gt 0 ] || exit 0
for f in "${files[@]}"; do
	mkdir -p "$tmp/$(dirname "$f")"
	cp "$TOP/$f" "$tmp/$f"
done
cp "$ROOT$KSRC/.rustfmt.toml" "$tmp/"
# rustfmt follows `mod` items, which here only lead to the project's own files.
in_root "rustfmt --config-path /build/fmt/.rustfmt.toml --edition 2021 ${files[*]/#//build/fmt/}"

for f in "${files[@]}"; do
	cmp -s "$tmp/$f" "$TOP/$f" || { cp "$tmp/$f" "$TOP/$f"; echo "formatted $f"; }
done
rm -rf "$tmp"
