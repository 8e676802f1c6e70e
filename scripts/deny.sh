#!/usr/bin/env bash
# `cargo deny` as `make test` runs it: advisories, licences, bans and sources (deny.toml).
# The advisories come from deny/advisory-db/ (RustSec's, for the crates in the lock files;
# refreshed by scripts/advisories.sh), made into a local git repository for cargo-deny to
# fetch from, since CI cannot reach GitHub.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny@0.20.2
db=deny/advisory-db
# A crate added since the extract was made would have its advisories missed: say so.
new=$(awk -F'"' '/^name = /{print $2}' Cargo.lock | sort -u | comm -23 - "$db/crates.txt")
if [ -n "$new" ]; then
  echo "deny: Cargo.lock has crates deny/advisory-db was not made for ($(echo $new)): run scripts/advisories.sh" >&2
  exit 1
fi
repo="$PWD/target/advisory-db"
rm -rf "$repo" target/advisory-dbs
mkdir -p "$repo"
cp -r "$db/crates" "$repo/"
read -r _ date < "$db/SNAPSHOT"
git -C "$repo" init -q -b main
git -C "$repo" add -A
GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$repo" \
  -c user.name=thumbkit -c user.email=thumbkit@localhost -c commit.gpgsign=false \
  commit -q -m "RustSec advisory-db extract"
config=target/deny.toml
{
  sed '/^\[advisories\]/a db-urls = ["https://advisory-db.thumbkit.invalid/advisory-db"]\ndb-path = "'"$PWD"'/target/advisory-dbs"\ngit-fetch-with-cli = true' deny.toml
} > "$config"
# The made-up URL (cargo-deny wants a host) is the local repository, for git only.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="url.$repo.insteadOf" \
  GIT_CONFIG_VALUE_0=https://advisory-db.thumbkit.invalid/advisory-db
cargo deny --log-level warn --config "$config" check advisories licenses bans sources
