#!/bin/sh
# One-shot: gives the compose stack's Garage node a layout, imports thumbkit's key, creates
# the bucket and allows the key on it. Runs in the Garage container's network namespace
# (`network_mode: service:garage`), so `garage` reaches the node on 127.0.0.1:3901.
# Idempotent: a second `docker compose up` finds everything in place.
set -eu
g() { garage -c /etc/garage.toml "$@"; }
: "${KEY_ID:?}" "${SECRET:?}" "${BUCKET:?}"

for _ in $(seq 100); do g status >/dev/null 2>&1 && break; sleep 0.2; done
status=$(g status)
node=$(echo "$status" | awk '$1 ~ /^[0-9a-f]+$/ && length($1) >= 16 {print $1; exit}')
[ -n "$node" ] || { echo "no Garage node id in: $status" >&2; exit 1; }
if g layout show 2>/dev/null | grep -q "No nodes currently have a role"; then
  g layout assign -z dc1 -c 1G "$node"
  g layout apply --version 1
fi
retry() {
  for _ in $(seq 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  "$@"
}
g key info "$KEY_ID" >/dev/null 2>&1 || retry g key import --yes -n thumbkit "$KEY_ID" "$SECRET"
g bucket info "$BUCKET" >/dev/null 2>&1 || retry g bucket create "$BUCKET"
retry g bucket allow --read --write --owner "$BUCKET" --key "$KEY_ID"
echo "garage-init: bucket $BUCKET ready for $KEY_ID"
