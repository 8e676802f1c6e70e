#!/usr/bin/env bash
# Starts a 3-node Garage cluster on loopback (replication_factor = 3: it survives losing a
# node), S3 on 127.0.0.1:3900, :3910 and :3920, with a bucket `photos` and a key; prints the
# variables to export. Needs `garage` 2.5.0 (`cargo install garage --version 2.5.0 --locked`).
#
#   eval "$(scripts/garage-cluster.sh)"   # start (state in ${GARAGE_DIR:-/tmp/thumbkit-garage3})
#   scripts/garage-cluster.sh stop [N]    # stop every node, or node N (0, 1 or 2)
#   scripts/garage-cluster.sh start N     # start node N again
set -euo pipefail

dir=${GARAGE_DIR:-/tmp/thumbkit-garage3}
key_id=GK0123456789abcdef01234567
secret=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

conf() { echo "$dir/node$1/garage.toml"; }
g() { local n=$1; shift; garage -c "$(conf "$n")" "$@"; }

start_node() {
  local n=$1 base=$((3900 + 10 * $1))
  mkdir -p "$dir/node$n/meta" "$dir/node$n/data"
  cat >"$(conf "$n")" <<CONF
metadata_dir = "$dir/node$n/meta"
data_dir = "$dir/node$n/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$((base + 1))"
rpc_public_addr = "127.0.0.1:$((base + 1))"
rpc_secret = "$(printf '%064d' 7)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$base"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((base + 3))"
CONF
  if ! g "$n" status >/dev/null 2>&1; then
    garage -c "$(conf "$n")" server >"$dir/node$n/garage.log" 2>&1 &
    echo $! >"$dir/node$n/pid"
    for _ in $(seq 50); do g "$n" status >/dev/null 2>&1 && break; sleep 0.2; done
  fi
}

stop_node() {
  local pid=$dir/node$1/pid
  [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  rm -f "$pid"
}

case "${1:-}" in
  stop)
    if [ -n "${2:-}" ]; then stop_node "$2"; else for n in 0 1 2; do stop_node $n; done; fi
    exit 0 ;;
  start)
    start_node "$2"; exit 0 ;;
esac

command -v garage >/dev/null || {
  echo "garage is not installed: cargo install garage --version 2.5.0 --locked" >&2
  exit 1
}
for n in 0 1 2; do start_node $n; done
# Node ids: `node id -q` prints ID@ADDR. Outputs are read whole before they are searched
# (see garage-dev.sh: a reader that stops early can kill garage with SIGPIPE).
ids=()
for n in 0 1 2; do
  full=$(g $n node id -q 2>/dev/null)
  ids+=("${full%%@*}")
  [ "$n" = 0 ] || g 0 node connect "$full" >/dev/null
done
layout=$(g 0 layout show 2>/dev/null || true)
if grep -q "No nodes currently have a role" <<<"$layout"; then
  for n in 0 1 2; do g 0 layout assign -z "dc$n" -c 1G "${ids[$n]}" >/dev/null; done
  g 0 layout apply --version 1 >/dev/null
fi
retry() {
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  "$@" >/dev/null
}
g 0 key info "$key_id" >/dev/null 2>&1 || retry g 0 key import --yes -n thumbkit "$key_id" "$secret"
g 0 bucket info photos >/dev/null 2>&1 || retry g 0 bucket create photos
retry g 0 bucket allow --read --write --owner photos --key "$key_id"

cat <<OUT
export AWS_REGION=garage AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$secret
export THUMBKIT_STORAGE=s3://photos
# S3 endpoints of the three nodes: http://127.0.0.1:3900 http://127.0.0.1:3910 http://127.0.0.1:3920
OUT
