#!/usr/bin/env bash
# Starts a single-node Garage (a real distributed S3 store) on 127.0.0.1:3900 with a bucket
# `photos` and a key, for running thumbkit against S3 on one machine. Prints the variables to
# export. Needs `garage` 2.5.0 (`cargo install garage --version 2.5.0 --locked`, ~17 min once).
#
#   eval "$(scripts/garage-dev.sh)"  # start (state in ${GARAGE_DIR:-/tmp/thumbkit-garage})
#   scripts/garage-dev.sh stop
set -euo pipefail

dir=${GARAGE_DIR:-/tmp/thumbkit-garage}
conf=$dir/garage.toml
key_id=GK0123456789abcdef01234567
secret=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

if [ "${1:-}" = stop ]; then
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
  exit 0
fi

command -v garage >/dev/null || {
  echo "garage is not installed: cargo install garage --version 2.5.0 --locked" >&2
  exit 1
}
mkdir -p "$dir/meta" "$dir/data"
cat >"$conf" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret = "$(printf '%064d' 7)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:3900"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:3903"
EOF

g() { garage -c "$conf" "$@"; }
if ! g status >/dev/null 2>&1; then
  garage -c "$conf" server >"$dir/garage.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 50); do g status >/dev/null 2>&1 && break; sleep 0.2; done
fi
# Outputs are read whole before they are searched: with `pipefail`, a reader that stops early
# (`grep -q`, awk's `exit`) can kill garage with SIGPIPE, fail the pipeline and so skip the
# layout step at random (then every later command says "Layout not ready").
status=$(g status 2>/dev/null || true)
layout=$(g layout show 2>/dev/null || true)
# The node id: the first field of the first line that starts with 16+ hex digits (no `{16}`
# interval: Debian's default awk, mawk, does not support it).
node=$(awk '$1 ~ /^[0-9a-f]+$/ && length($1) >= 16 {print $1; exit}' <<<"$status")
[ -n "$node" ] || { echo "cannot find the Garage node id in \`garage status\`" >&2; exit 1; }
if grep -q "No nodes currently have a role" <<<"$layout"; then
  g layout assign -z dc1 -c 1G "$node" >/dev/null
  g layout apply --version 1 >/dev/null
fi
# Right after `layout apply` the layout may not be active yet ("Layout not ready"): retry for
# up to 10 s, then run once more to show the error.
retry() {
  for _ in $(seq 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  "$@" >/dev/null
}
g key info "$key_id" >/dev/null 2>&1 || retry g key import --yes -n thumbkit "$key_id" "$secret"
g bucket info photos >/dev/null 2>&1 || retry g bucket create photos
retry g bucket allow --read --write --owner photos --key "$key_id"

cat <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:3900 AWS_REGION=garage
export AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$secret
export THUMBKIT_STORAGE=s3://photos
EOF
