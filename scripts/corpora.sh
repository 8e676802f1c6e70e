#!/usr/bin/env bash
# Regenerates the generated part of fixtures/corpora/ (files named gen-*) from the corpus's own
# images, with libjpeg-turbo's jpegtran and libwebp's cwebp/img2webp (Debian:
# libjpeg-turbo-progs, webp). Not run by the tests: its output is committed, so CI needs
# neither tool. Each file exercises a decoder path the copied corpora miss.
set -euo pipefail
cd "$(dirname "$0")/../fixtures/corpora"
j=jpeg; w=webp
# JPEG: restart markers every row and every 3 MCUs, arithmetic coding with progressive
# scans, libjpeg-turbo's own scan script, and a progressive file with many scans.
jpegtran -restart 1 -outfile $j/gen-restart-1row.jpg $j/testorig.jpg
jpegtran -restart 3B -outfile $j/gen-restart-3mcu.jpg $j/testorig.jpg
jpegtran -arithmetic -progressive -outfile $j/gen-arith-progressive.jpg $j/testorig.jpg
jpegtran -scans $j/test.scan -outfile $j/gen-scan-script.jpg $j/testorig.jpg
jpegtran -progressive -restart 2 -outfile $j/gen-progressive-restart.jpg $j/video-001.q50.420.jpeg
# WebP lossy: slowest method with a partition limit, one segment, loop filter off and at its strongest, alpha
# compressed and raw, filtered; lossless at both ends of effort, near-lossless, exact alpha.
src=$j/video-001.png
alpha=pngsuite/basn6a08.png
cwebp -quiet -q 75 -m 6 -pass 10 -partition_limit 50 $src -o $w/gen-method6.webp
cwebp -quiet -q 75 -segments 1 $src -o $w/gen-segments1.webp
cwebp -quiet -q 40 -f 0 -sharpness 7 $src -o $w/gen-nofilter.webp
cwebp -quiet -q 40 -strong -f 100 -sns 100 $src -o $w/gen-strongfilter.webp
cwebp -quiet -q 90 -alpha_method 1 -alpha_filter best $alpha -o $w/gen-alpha-filtered.webp
cwebp -quiet -q 90 -alpha_method 0 $alpha -o $w/gen-alpha-raw.webp
cwebp -quiet -lossless -z 0 $src -o $w/gen-lossless-z0.webp
cwebp -quiet -lossless -z 9 $src -o $w/gen-lossless-z9.webp
cwebp -quiet -near_lossless 40 $src -o $w/gen-near-lossless.webp
cwebp -quiet -lossless -exact $alpha -o $w/gen-lossless-exact-alpha.webp
img2webp -loop 3 -lossy -q 60 pngsuite/basn2c08.png -d 100 pngsuite/basn6a08.png -d 100 \
  pngsuite/ftbbn2c16.png -o $w/gen-animated-lossy.webp >/dev/null
img2webp -mixed pngsuite/basn6a08.png pngsuite/basn2c08.png -o $w/gen-animated-mixed.webp >/dev/null
