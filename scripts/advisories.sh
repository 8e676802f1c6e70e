#!/usr/bin/env bash
# Refreshes deny/advisory-db/: RustSec's advisories (CC0) for every crate in Cargo.lock and
# fuzz/Cargo.lock, so `make test` checks advisories with no network (CI reaches only the
# package registries, not GitHub). Run on a machine that reaches GitHub, after changing
# dependencies: `scripts/advisories.sh [path/to/a/clone/of/rustsec/advisory-db]`.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
src=${1:-}
if [ -z "$src" ]; then
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  git clone -q --depth 1 https://github.com/rustsec/advisory-db "$src"
fi
snapshot=$(git -C "$src" log -1 --format='%H %cI')
if [ ! -d "$src/crates" ]; then
  # A clone without a work tree (a mirror): check its HEAD out into a scratch folder.
  tree=$(mktemp -d)
  trap 'rm -rf "$tree"' EXIT
  git -C "$src" archive HEAD crates LICENSE.txt | tar -x -C "$tree"
  src=$tree
fi
out=deny/advisory-db
rm -rf "$out"
mkdir -p "$out/crates"
# fuzz/Cargo.lock exists once the fuzz targets have been built; awk fails on a missing file.
locks=(Cargo.lock)
[ -f fuzz/Cargo.lock ] && locks+=(fuzz/Cargo.lock)
awk -F'"' '/^name = /{print $2}' "${locks[@]}" | sort -u > "$out/crates.txt"
while read -r c; do
  [ -d "$src/crates/$c" ] && cp -r "$src/crates/$c" "$out/crates/"
done < "$out/crates.txt"
cp "$src/LICENSE.txt" "$out/LICENSE.txt"
echo "$snapshot" > "$out/SNAPSHOT"
echo "$(find "$out/crates" -name '*.md' | wc -l) advisories for $(wc -l < "$out/crates.txt") crates, from $(cat "$out/SNAPSHOT")"
