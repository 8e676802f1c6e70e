#!/usr/bin/env bash
# The container image and compose.yaml, built and run unchanged as a user would, with podman
# (no Docker engine and no image registry here). Run it before resolving any change to the
# Dockerfile, compose.yaml, deploy/garage/ or the build; it is too slow for every CI run
# (first run ~25 min: stand-in images, a cargo-installed Garage, a release build inside).
#
# The images the files name are stand-ins tagged with exactly those names, built locally:
#   debian:bookworm-slim   mmdebstrap --variant=minbase bookworm
#   rust:1.95-bookworm     that base + build-essential + this machine's Rust toolchain and its
#                          extra CA certificates (crates.io is reached through a proxy)
#   dxflrs/garage:v2.5.0   that base + a `cargo install`ed garage 2.5.0 at /garage
# What this machine needs (see ../shared/DESIGN.md, "Containers"): runc (crun refuses hybrid
# cgroups), `default_ulimits = []`, `--format docker` (OCI images drop HEALTHCHECK),
# `podman healthcheck run` by hand (no systemd), docker-compose against `podman system
# service`, and `down -v` twice.
#
# Checks: the image builds (size, time); it runs as uid 10001, turns healthy, serves a
# thumbnail of an uploaded photo, drains an in-flight upload on SIGTERM and exits 0; compose
# brings up Garage, the init and thumbkit, a thumbnail is served from the bucket, and from it
# again after thumbkit restarts. Exits 1 on the first failure, saying which.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/container-test
IMAGE=localhost/thumbkit:container-test
NAME=thumbkit-ct
PORT=18480
PHOTO=$ROOT/fixtures/IMG_9424.JPG
mkdir -p "$WORK"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

log() { printf '%s  %s\n' "$(date +%T)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
ok() { log "ok    $*"; }

# --- what the machine needs -------------------------------------------------------------
missing=$(for p in podman runc mmdebstrap docker-compose uidmap; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  log "installing: $missing"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# Our own configuration, so nothing under /etc is changed.
export CONTAINERS_CONF=$WORK/containers.conf
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
EOF

# --- stand-ins for the images the files name ----------------------------------------------
have() { podman image exists "$1"; }
if ! have docker.io/library/debian:bookworm-slim; then
  log "stand-in debian:bookworm-slim (mmdebstrap)"
  rm -f "$WORK/base.tar"
  mmdebstrap --quiet --variant=minbase bookworm "$WORK/base.tar" http://deb.debian.org/debian
  podman import -q --change 'CMD ["bash"]' "$WORK/base.tar" docker.io/library/debian:bookworm-slim >/dev/null
  rm -f "$WORK/base.tar"
fi
if ! have docker.io/library/rust:1.95-bookworm; then
  log "stand-in rust:1.95-bookworm (this machine's toolchain)"
  ctx=$WORK/rust-ctx
  rm -rf "$ctx" && mkdir -p "$ctx/certs"
  toolchain=$(rustc --print sysroot)
  tar -C "$toolchain" --exclude=share/doc --exclude='lib/rustlib/src' -cf "$ctx/toolchain.tar" .
  cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
  cat >"$ctx/Containerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential ca-certificates curl git \
 && rm -rf /var/lib/apt/lists/*
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ADD toolchain.tar /usr/local/rust/
ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:$PATH CARGO_HOME=/usr/local/cargo
RUN rustc --version && cargo --version
EOF
  podman build -q --network=host --format docker -t docker.io/library/rust:1.95-bookworm "$ctx" >/dev/null
  rm -rf "$ctx"
fi
garage_standin() {
  have docker.io/dxflrs/garage:v2.5.0 && return 0
  GARAGE=$(command -v garage || echo "$HOME/.cargo/bin/garage")
  if [ ! -x "$GARAGE" ]; then
    log "installing garage 2.5.0 with cargo (once, ~17 min)"
    cargo install garage --version 2.5.0 --locked
  fi
  log "stand-in dxflrs/garage:v2.5.0 (garage $("$GARAGE" --version 2>/dev/null | head -1))"
  ctx=$WORK/garage-ctx
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$GARAGE" "$ctx/garage"
  printf 'FROM debian:bookworm-slim\nCOPY garage /garage\nENTRYPOINT ["/garage"]\n' >"$ctx/Containerfile"
  podman build -q --format docker -t docker.io/dxflrs/garage:v2.5.0 "$ctx" >/dev/null
  rm -rf "$ctx"
}
ok "stand-ins: debian:bookworm-slim, rust:1.95-bookworm"

# --- helpers ------------------------------------------------------------------------------
# `status x-cache width height` of a GET (the JPEG's size read from its SOF marker).
fetch() {
  curl -s -D "$WORK/headers" -o "$WORK/body" "$1" >/dev/null || true
  python3 - "$WORK/headers" "$WORK/body" <<'EOF'
import re, struct, sys
head = open(sys.argv[1], encoding="latin-1").read()
status = re.findall(r"^HTTP/\S+ (\d+)", head, re.M)
cache = re.findall(r"^x-cache: (\S+)", head, re.M | re.I)
data = open(sys.argv[2], "rb").read()
size = "-"
i = 2
while data[:2] == b"\xff\xd8" and i + 9 < len(data):
    marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
    if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
        h, w = struct.unpack(">HH", data[i + 5:i + 9])
        size = f"{w}x{h}"
        break
    i += 2 + length
print(status[-1] if status else "000", cache[-1] if cache else "-", size)
EOF
}
wait_for() { # url, seconds
  for _ in $(seq "$(($2 * 5))"); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  return 1
}
upload() { # base url, token, key -> status
  curl -s -o "$WORK/upload.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $2" \
    -H 'Content-Type: image/jpeg' --data-binary @"$PHOTO" "$1/v1/originals/$3" "${@:4}"
}

# --- the image ----------------------------------------------------------------------------
image_test() {
  podman rm -f "$NAME" >/dev/null 2>&1 || true
  log "building the image from the Dockerfile, unchanged"
  started=$(date +%s)
  podman build -q --network=host --format docker -t "$IMAGE" . >"$WORK/build.log" 2>&1 ||
    { tail -30 "$WORK/build.log"; fail "the image does not build"; }
  size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
  ok "image built in $(($(date +%s) - started)) s, $((size / 1000000)) MB"
  podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE" | grep -q healthz ||
    fail "the image has no HEALTHCHECK"

  TOKEN=ct-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  podman run -d --name "$NAME" -p 127.0.0.1:$PORT:8080 -e THUMBKIT_API_TOKEN="$TOKEN" "$IMAGE" >/dev/null 2>"$WORK/run.err" ||
    { cat "$WORK/run.err"; fail "podman run"; }
  wait_for "http://127.0.0.1:$PORT/healthz" 30 || { podman logs "$NAME" | tail; fail "no /healthz"; }
  uid=$(podman exec "$NAME" id -u)
  [ "$uid" = 10001 ] || fail "runs as uid $uid"
  pid1=$(podman top "$NAME" user comm | awk 'NR > 1 {print $1 " " $2}')
  ok "runs as uid $uid ($pid1)"
  healthy=no
  for _ in $(seq 30); do
    if podman healthcheck run "$NAME" >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 1
  done
  [ "$healthy" = yes ] || fail "the HEALTHCHECK does not pass"
  ok "healthy (podman healthcheck run: the image's own curl of /healthz)"
  code=$(upload "http://127.0.0.1:$PORT" "$TOKEN" demo/photo.jpg)
  [ "$code" = 201 ] || fail "upload answered $code: $(cat "$WORK/upload.json")"
  read -r status cache wh < <(fetch "http://127.0.0.1:$PORT/t/thumb/demo/photo.jpg")
  [ "$status $wh" = "200 320x240" ] || fail "thumbnail: $status $cache $wh"
  ok "upload 201; GET /t/thumb/demo/photo.jpg: $status, $wh, x-cache $cache"

  # SIGTERM with an upload in flight: it finishes (201), then the process exits 0.
  upload "http://127.0.0.1:$PORT" "$TOKEN" demo/slow.jpg --limit-rate 400k >"$WORK/slow.code" &
  slow=$!
  sleep 1.5
  podman stop -t 30 "$NAME" >/dev/null 2>&1
  wait "$slow" || true
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
  [ "$(cat "$WORK/slow.code")" = 201 ] || fail "the in-flight upload got $(cat "$WORK/slow.code")"
  [ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM"
  ok "SIGTERM during a 1.9 MB upload at 400 KB/s: the upload got 201, the container exited 0"
  podman logs "$NAME" 2>&1 | tail -3 | sed 's/^/      log: /'
  podman rm -f "$NAME" >/dev/null 2>&1
}

# --- compose: Garage, its init, thumbkit ----------------------------------------------------
# No systemd here, so nothing runs the containers' healthchecks: run them by hand, every
# second, for compose's `condition: service_healthy` to see.
healthchecks() {
  while sleep 1; do
    for c in $(podman ps --filter label=com.docker.compose.project=thumbkit-ct --format '{{.Names}}'); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
  done
}
compose_test() {
  garage_standin
  ok "stand-in: dxflrs/garage:v2.5.0"
  SOCK=$WORK/podman.sock
  rm -f "$SOCK"
  podman system service --time=0 "unix://$SOCK" >"$WORK/service.log" 2>&1 &
  service=$!
  healthchecks &
  checker=$!
  trap 'kill $service $checker 2>/dev/null || true' EXIT
  for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
  export DOCKER_HOST=unix://$SOCK
  compose() { docker-compose -p thumbkit-ct "$@"; }
  # `down -v` twice: the first can leave the volume behind while a container is still going.
  compose down -v >/dev/null 2>&1 || true
  compose down -v >/dev/null 2>&1 || true
  log "docker-compose up --build (compose.yaml unchanged)"
  compose up -d --build >"$WORK/compose.log" 2>&1 || { tail -30 "$WORK/compose.log"; fail "compose up"; }
  wait_for http://127.0.0.1:8080/healthz 120 || { compose logs | tail -30; fail "thumbkit did not come up"; }
  init=$(compose ps garage-init | tail -1)
  ok "up: garage healthy, init ran ($(echo "$init" | grep -o 'Exit [0-9]*' || echo "$init")), thumbkit answers"
  code=$(upload http://127.0.0.1:8080 compose-demo-token demo/photo.jpg)
  [ "$code" = 201 ] || fail "compose upload answered $code: $(cat "$WORK/upload.json")"
  read -r status cache wh < <(fetch http://127.0.0.1:8080/t/thumb/demo/photo.jpg)
  [ "$status $wh" = "200 320x240" ] || fail "compose thumbnail: $status $cache $wh"
  sleep 1 # the variant is written to the bucket behind the response
  objects=$(compose exec -T garage /usr/local/bin/garage -c /etc/garage.toml bucket info photos |
    awk -F: '/^Objects/ {gsub(/ /, "", $2); print $2}')
  ok "upload 201; thumbnail $status $wh ($cache); the bucket holds $objects objects"
  compose restart thumbkit >/dev/null 2>&1
  wait_for http://127.0.0.1:8080/healthz 60 || fail "thumbkit did not come back"
  read -r status cache wh < <(fetch http://127.0.0.1:8080/t/thumb/demo/photo.jpg)
  [ "$status $cache $wh" = "200 hit-store 320x240" ] || fail "after restart: $status $cache $wh"
  ok "after restarting thumbkit: $status $wh, x-cache $cache (from the bucket, no render)"
  compose down -v >/dev/null 2>&1 || true
  compose down -v >/dev/null 2>&1 || true
  ok "compose down -v"
}

case "${1:-all}" in
  image) image_test ;;
  compose) compose_test ;;
  all) image_test && compose_test ;;
  *) fail "usage: $0 [image|compose|all]" ;;
esac
log "container test passed (${1:-all})"
