#!/usr/bin/env python3
"""Cold `avatar` renders over HTTP, `smart` (the shipped preset) against the same preset with
`gravity = "centre"` (what `avatar` was before), on one release server in the same run.

Each round copies the photos under fresh keys with one changed byte in a JPEG comment (new
content, so nothing is cached and the saliency is not known yet), then requests every key's
`avatar` and `avatar-centre` from 2 clients, alternating which goes first. Prints the median
images/s and milliseconds per image of each, and their ratio.

    python3 benches/http/smart.py [--rounds 5] [--binary target/release/thumbkit] PHOTO...
"""
import argparse
import concurrent.futures
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_comment(jpeg: bytes, text: bytes) -> bytes:
    """The JPEG with a COM segment after SOI: other bytes, the same picture."""
    seg = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return jpeg[:2] + seg + jpeg[2:]


def fetch(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise SystemExit(f"{path}: {r.status} {body[:200]!r}")
    return r.getheader("X-Cache", "")


def timed(port, paths):
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        tiers = list(pool.map(lambda p: fetch(port, p), paths))
    took = time.perf_counter() - start
    return len(paths) / took, tiers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--copies", type=int, default=4, help="copies of each photo per round")
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "thumbkit"))
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tk-smart-"))
    presets = work / "presets"
    presets.mkdir()
    shutil.copy(ROOT / "presets" / "avatar.toml", presets / "avatar.toml")
    centre = (ROOT / "presets" / "avatar.toml").read_text().replace('gravity = "smart"', 'gravity = "centre"')
    (presets / "avatar-centre.toml").write_text(centre)
    store = work / "store"
    store.mkdir()
    port = free_port()
    env = dict(os.environ, THUMBKIT_PRESETS=str(presets))
    server = subprocess.Popen(
        [args.binary, "serve", "--storage", f"fs:{store}", "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        photos = [Path(p).read_bytes() for p in args.photos]
        rates = {"avatar": [], "avatar-centre": []}
        for rnd in range(args.rounds):
            keys = {}
            for preset in rates:
                keys[preset] = []
                for i, photo in enumerate(photos):
                    for c in range(args.copies):
                        key = f"r{rnd}/{preset}/{i}-{c}.jpg"
                        (store / key).parent.mkdir(parents=True, exist_ok=True)
                        (store / key).write_bytes(with_comment(photo, f"{rnd} {preset} {c}".encode()))
                        keys[preset].append(key)
            order = list(rates) if rnd % 2 == 0 else list(reversed(list(rates)))
            for preset in order:
                rate, tiers = timed(port, [f"/t/{preset}/{k}" for k in keys[preset]])
                if any(t != "miss" for t in tiers):
                    raise SystemExit(f"{preset}: not every render was cold: {tiers}")
                rates[preset].append(rate)
        smart, centre = statistics.median(rates["avatar"]), statistics.median(rates["avatar-centre"])
        print(f"cold avatar renders over HTTP, 2 clients, {args.rounds} rounds x {len(photos) * args.copies} images, medians")
        print(f"| preset | images/s | ms/image |")
        print(f"|---|---|---|")
        print(f"| avatar, gravity = \"centre\" (before) | {centre:.1f} | {1000 / centre:.1f} |")
        print(f"| avatar, gravity = \"smart\" (after) | {smart:.1f} | {1000 / smart:.1f} |")
        print(f"smart / centre throughput: {smart / centre:.3f} (render time +{(centre / smart - 1) * 100:.1f}%)")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
