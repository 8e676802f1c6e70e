#!/usr/bin/env bash
# What each preset operation costs: `thumbkit render --workers 1` of N copies of a 12 MP photo
# into a 2048 px and a 320 px output, plain and with each operation, 3 rounds each, in the
# same run (ms per image: the fastest of 5 rounds, and their median). Usage:
#   bash benches/operations/run.sh [photo] [copies]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
photo=${1:-$root/../shared/fixtures/IMG_9424.JPG}
copies=${2:-12}
bin=$root/target/release/thumbkit
[ -x "$bin" ] || (cd "$root" && cargo build --release)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in" "$work/p/marks" "$work/out"
for i in $(seq 1 "$copies"); do cp "$photo" "$work/in/$i.jpg"; done
cp "$root/presets/examples/marks/thumbkit.png" "$work/p/marks/"
declare -A extra=(
  [plain]=''
  [trim]='trim = true'
  [sharpen]='sharpen = 0.8'
  [blur]='blur = 20'
  [circle]='mask = "circle"'
  [watermark]='watermark = { image = "marks/thumbkit.png", position = "south-east", opacity = 0.8 }'
  [budget]='max_bytes = BUDGET'
)
printf '%-10s %-12s %-8s %-8s %s\n' operation output fastest median "rounds"
for side in 2048 320; do
  budget=$(( side == 2048 ? 250000 : 8000 ))
  for op in plain trim sharpen blur circle watermark budget; do
    name="o$side$op"
    { printf 'width = %s\nheight = %s\nformat = "jpeg"\nquality = 85\n' "$side" "$side"
      echo "${extra[$op]//BUDGET/$budget}"; } > "$work/p/$name.toml"
    times=()
    for round in 1 2 3 4 5; do
      start=$(date +%s%N)
      "$bin" render --preset-files "$work/p" --preset "$name" --workers 1 -o "$work/out/" "$work"/in/*.jpg > /dev/null
      end=$(date +%s%N)
      times+=("$(( (end - start) / copies / 1000 ))")
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
    fastest=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 1p)
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
    printf '%-10s %-12s %-8s %-8s %s\n' "$op" "inside $side" \
      "$(awk -v m="$fastest" 'BEGIN{printf "%.1f", m/1000}')" \
      "$(awk -v m="$median" 'BEGIN{printf "%.1f", m/1000}')" \
      "$(for t in $sorted; do awk -v m="$t" 'BEGIN{printf "%.1f ", m/1000}'; done)"
  done
done
