#!/usr/bin/env python3
"""imgproxy's benchmark method against thumbor, on a quiet machine and beside busy processes.

imgproxy/image-servers-benchmark (2024): 2 K originals (DIV2K), fit inside 512×512, the same
format out at JPEG q80 / WebP q75 / AVIF q65 (PNG lossless), a fixed number of clients. Here
the 2 K originals are made by libvips from the harness's camera photos (long side 2040 px,
as DIV2K: a lossless PNG master, then JPEG q90, PNG, WebP q90 and AVIF q60, metadata stripped, cached under
target/bench-inputs); every request is a cold render (thumbkit's fs store under a fresh
content hash each round, thumbor 7 with the file loader and no result storage), 4 clients.

Each round measures every format quiet, then again beside one busy process per core (a
spinning Python process at nice 0: an app server, a CI job, a backup). Then memory hits of
one pinned thumbnail at 200/s on 4 connections, idle and under a render backlog (8 clients
keeping the render queue full), for their p99.

Run through `benches/http/run --imgproxy` (installs what it needs, builds thumbkit in release).
"""

import argparse
import datetime
import http.client
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

CLIENTS = 4
# imgproxy's published speed against thumbor on the 2-vCPU machine (its README, 2024).
PUBLISHED = {"jpeg": 1.54, "png": 2.16, "webp": 1.67, "avif": 1.01}
# format, extension, the quality out (imgproxy's), how the original is saved from the master
# (libvips; libheif's heif-enc for AVIF, as Debian's libvips 8.14 fails to write through
# libheif 1.19).
FORMATS = [
    ("jpeg", "jpg", 80, lambda m, f: ["vips", "copy", m, f"{f}[Q=90,strip]"]),
    ("png", "png", None, lambda m, f: ["vips", "copy", m, f"{f}[strip]"]),
    ("webp", "webp", 75, lambda m, f: ["vips", "copy", m, f"{f}[Q=90,strip]"]),
    ("avif", "avif", 65, lambda m, f: ["heif-enc", "-A", "-q", "60", "-o", f, m]),
]
PRESET = """# imgproxy's benchmark: fit inside 512x512, the input's format, its qualities.
width = 512
height = 512
fit = "inside"
format = "source"
quality = { jpeg = 80, webp = 75, avif = 65 }
"""
HIT_RATE = 200


def originals(pics):
    """Each photo at 2040 px in every format, made once and kept: {format: [(name, bytes)]}."""
    cache = h.ROOT / "target" / "bench-inputs"
    cache.mkdir(parents=True, exist_ok=True)
    out = {f: [] for f, *_ in FORMATS}
    for name, _ in pics:
        stem = Path(name).stem
        master = cache / f"{stem}-2k-master.png"
        if not master.exists():
            # In sRGB, without metadata: the originals a web app stores after its own resize.
            subprocess.run(["vips", "thumbnail", str(h.WORK / "photos" / name), f"{master}[strip]", "2040",
                            "--size", "down", "--export-profile", "srgb"], check=True)
        for fmt, ext, _, save in FORMATS:
            file = cache / f"{stem}-2k.{ext}"
            if not file.exists():
                subprocess.run(save(str(master), str(file)), check=True, stdout=subprocess.DEVNULL)
            out[fmt].append((f"{stem}.{ext}", file.read_bytes()))
    return out


def fresh(data, tag):
    """The same image with bytes after its end: a new content hash, the same pixels."""
    return data + f"thumbkit-bench {tag}".encode()


class Busy:
    """One spinning process per core, at nice 0, for as long as the `with` lasts."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(h.CORES)]
        time.sleep(0.5)
        return self

    def __exit__(self, *_):
        for p in self.procs:
            p.kill()
            p.wait()


def measure(tk, th, inputs, rnd, setting, figures):
    """Every format once on each server, under fresh hashes; thumbor first on odd rounds."""
    cold = h.WORK / "tk-store" / "cold"
    for fmt, ext, quality, _ in FORMATS:
        names = []
        for name, data in inputs[fmt]:
            fname = f"{setting}-r{rnd}-{name}"
            (cold / fname).write_bytes(fresh(data, f"{setting} {rnd} {time.time()}"))
            names.append(fname)
        filters = f"filters:quality({quality})/" if quality else ""
        servers = [("thumbkit", tk, lambda n: f"/t/fit512/cold/{n}"),
                   ("thumbor", th, lambda n, f=filters: f"/unsafe/fit-in/512x512/{f}cold/{n}")]
        if rnd % 2:
            servers.reverse()
        for tool, server, path in servers:
            secs, bodies = h.fetch_all(server.port, [path(n) for n in names], CLIENTS)
            figures.setdefault((setting, fmt, tool), []).append(len(names) / secs)
            out = h.WORK / "out" / setting / tool
            out.mkdir(parents=True, exist_ok=True)
            for n, b in zip(names, bodies):
                (out / f"{Path(n).stem.split('-', 2)[2]}.{ext}").write_bytes(b)
        for n in names:
            (cold / n).unlink()


def psnr(inputs, presets):
    """PSNR of each server's last quiet output against the 2 K master: {(fmt, tool): [dB]}."""
    cache = h.ROOT / "target" / "bench-inputs"
    scores, sizes = {}, {}
    for fmt, ext, _, _ in FORMATS:
        for name, _ in inputs[fmt]:
            stem = Path(name).stem
            outs = [h.WORK / "out" / "quiet" / tool / f"{stem}.{ext}" for tool in ("thumbkit", "thumbor")]
            lines = subprocess.run(
                [str(h.TK), "bench", "--preset", "fit512", "--preset-files", str(presets),
                 "--images", str(cache / f"{stem}-2k-master.png"), "--psnr-of", ",".join(map(str, outs))],
                capture_output=True, text=True, check=True).stdout.split("\n")
            for tool, line, o in zip(("thumbkit", "thumbor"), lines, outs):
                scores.setdefault((fmt, tool), []).append(float(line.split()[2]))
                sizes[(fmt, tool)] = sizes.get((fmt, tool), 0) + o.stat().st_size
    return scores, sizes


def pipeline_alone(presets):
    """thumbkit's pipeline with no HTTP and no store on the same 2 K originals, one worker
    process per core (`thumbkit bench --workers CORES`): {format: CPU ms per image, the mean
    over the photos}, the floor under any service overhead."""
    cache = h.ROOT / "target" / "bench-inputs"
    out = {}
    for fmt, ext, _, _ in FORMATS:
        files = sorted(str(f) for f in cache.glob(f"*-2k.{ext}"))
        lines = subprocess.run(
            [str(h.TK), "bench", "--preset", "fit512", "--preset-files", str(presets), "--workers", str(h.CORES),
             "--rounds", "3", "--batch", str(4 * h.CORES), "--sharp", "/nonexistent", "--images", *files],
            capture_output=True, text=True, check=True).stdout.split("\n")
        rates = [float(line.split()[3]) for line in lines if len(line.split()) > 3 and line.split()[2] == "thumbkit"]
        out[fmt] = sum(h.CORES * 1000 / r for r in rates) / len(rates)
    return out


def hits(port, path, seconds):
    """HIT_RATE memory hits per second on 4 kept-alive connections, open loop: latencies in ms."""
    latencies, lock = [], threading.Lock()

    def one(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            due = start + (n * 4 + k) / HIT_RATE
            time.sleep(max(0, due - time.perf_counter()))
            t = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            took = (time.perf_counter() - t) * 1000
            if r.status == 200 and r.getheader("x-cache") == "hit-memory":
                with lock:
                    latencies.append(took)
            n += 1
        c.close()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies)


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def handled(log, path, idle_count):
    """thumbkit's own handling time (ms, from its request log) of the memory hits of `path`:
    (idle, loaded), split after the first `idle_count`. It leaves out the wait for a CPU to
    read the request and the client's own, which on 2 shared cores is most of a slow hit."""
    ms = [float(line.rsplit("ms=", 1)[1]) for line in log.read_text().splitlines()
          if f"path={path} " in line and 'cache="hit-memory"' in line]
    return sorted(ms[:idle_count]), sorted(ms[idle_count:])


def backlog(tk, inputs, seconds):
    """Hits idle, then under a backlog of cold JPEG renders from 8 clients: (idle, loaded)."""
    store = h.WORK / "tk-store"
    name, data = inputs["jpeg"][0]
    (store / "hits").mkdir(parents=True, exist_ok=True)
    (store / "hits" / name).write_bytes(data)
    h.get(tk.port, f"/t/fit512/hits/{name}")
    idle = hits(tk.port, f"/t/fit512/hits/{name}", seconds)
    # The backlog's clients in a process of their own: in this one, their threads would
    # hold Python's lock for up to 5 ms at a time and the hits would measure that.
    stop, rendered = multiprocessing.Event(), multiprocessing.Value("i", 0)
    loader = multiprocessing.Process(target=keep_busy, args=(tk.port, inputs["jpeg"], store, stop, rendered))
    loader.start()
    time.sleep(2)
    loaded = hits(tk.port, f"/t/fit512/hits/{name}", seconds)
    stop.set()
    loader.join()
    return idle, loaded, rendered.value


def keep_busy(port, photos, store, stop, rendered):
    """8 clients each requesting cold renders of `photos` one after another until `stop`."""
    def client(k):
        i = 0
        while not stop.is_set():
            n, d = photos[i % len(photos)]
            key = f"backlog/{k}-{i}-{n}"
            (store / key).write_bytes(fresh(d, f"backlog {k} {i}"))
            status, _, _ = h.get(port, f"/t/fit512/{key}")
            with rendered.get_lock():
                rendered.value += status == 200
            (store / key).unlink()
            i += 1
    (store / "backlog").mkdir(exist_ok=True)
    clients = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()


def floor(figures, alone):
    """What 3× thumbor leaves per image against what thumbkit's pipeline alone takes."""
    out = ["", f"What 3× thumbor (quiet) leaves per image: {h.CORES} cores' CPU over 3× thumbor's images/s, "
           f"against thumbkit's pipeline alone (no HTTP, no store; `thumbkit bench --workers {h.CORES}`, "
           "mean over the photos) and against what the service took in the quiet rounds:", "",
           "| format | 3× thumbor's budget, CPU ms/image | pipeline alone ms/image | service ms/image "
           "| pipeline over the budget |", "|---|---|---|---|---|"]
    for fmt, *_ in FORMATS:
        budget = h.CORES * 1000 / (3 * h.median(figures[("quiet", fmt, "thumbor")]))
        served = h.CORES * 1000 / h.median(figures[("quiet", fmt, "thumbkit")])
        out.append(f"| {fmt} | {budget:.1f} | {alone[fmt]:.1f} | {served:.1f} | {alone[fmt] / budget:.2f}× |")
    return out


def report(figures, scores, sizes, idle, loaded, rendered, args, own):
    out = [f"### imgproxy's method: 2 K originals, fit inside 512×512, same format out, {CLIENTS} clients",
           "",
           f"{args.rounds} rounds, medians of images/s; each round quiet, then beside {h.CORES} busy "
           f"processes (one per core). thumbor {h.thumbor_version()} with {h.CORES} processes; PSNR "
           f"(dB, mean over the photos) of the quiet outputs against the lossless 2 K master.",
           "",
           "| format | thumbkit img/s quiet | thumbor img/s quiet | **ratio quiet** | thumbkit busy | thumbor busy "
           "| **ratio busy** | imgproxy's published ratio | PSNR thumbkit | PSNR thumbor | bytes thumbkit / thumbor |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for fmt, *_ in FORMATS:
        r = {(s, t): h.median(figures[(s, fmt, t)]) for s in ("quiet", "busy") for t in ("thumbkit", "thumbor")}
        per_round = lambda s: "/".join(f"{a / b:.2f}" for a, b in zip(figures[(s, fmt, "thumbkit")],
                                                                   figures[(s, fmt, "thumbor")]))
        pk, pt = (sum(scores[(fmt, t)]) / len(scores[(fmt, t)]) for t in ("thumbkit", "thumbor"))
        out.append(
            f"| {fmt} | {r[('quiet', 'thumbkit')]:.1f} | {r[('quiet', 'thumbor')]:.1f} | "
            f"**{r[('quiet', 'thumbkit')] / r[('quiet', 'thumbor')]:.2f}×** ({per_round('quiet')}) | "
            f"{r[('busy', 'thumbkit')]:.1f} | {r[('busy', 'thumbor')]:.1f} | "
            f"**{r[('busy', 'thumbkit')] / r[('busy', 'thumbor')]:.2f}×** ({per_round('busy')}) | "
            f"{PUBLISHED[fmt]:.2f}× | {pk:.2f} | {pt:.2f} | "
            f"{sizes[(fmt, 'thumbkit')]:,} / {sizes[(fmt, 'thumbor')]:,} |")
    out += ["", f"Memory hits ({HIT_RATE}/s on 4 connections, {args.hit_seconds} s each), idle and under "
            f"a backlog of cold renders (8 clients; {rendered} rendered meanwhile):", "",
            "| | p50 ms | p99 ms |", "|---|---|---|",
            f"| idle | {pct(idle, .5):.2f} | {pct(idle, .99):.2f} |",
            f"| under the backlog | {pct(loaded, .5):.2f} | {pct(loaded, .99):.2f} |",
            f"| thumbkit's own handling, idle | {pct(own[0], .5):.2f} | {pct(own[0], .99):.2f} |",
            f"| thumbkit's own handling, under the backlog | {pct(own[1], .5):.2f} | {pct(own[1], .99):.2f} |",
            "", f"p99 under the backlog: **{pct(loaded, .99) / pct(idle, .99):.2f}× idle** "
            f"({len(idle)} and {len(loaded)} hits); thumbkit's own handling "
            f"{pct(own[1], .99) / max(pct(own[0], .99), 0.05):.2f}× (its log's 0.1 ms resolution).", ""]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hit-seconds", type=int, default=15)
    ap.add_argument("--out", default=str(h.ROOT / "target" / "bench-imgproxy"))
    ap.add_argument("--thumbkit", default=str(h.TK), help="the thumbkit binary to measure (an earlier "
                    "build, for before/after figures)")
    args = ap.parse_args()
    h.TK = Path(args.thumbkit)
    h.WORK = Path(args.out).resolve()
    shutil.rmtree(h.WORK, ignore_errors=True)
    h.WORK.mkdir(parents=True)
    pics = h.photos()
    inputs = originals(pics)
    presets = h.WORK / "presets"
    presets.mkdir()
    for p in (h.ROOT / "presets").glob("*.toml"):
        shutil.copy(p, presets / p.name)
    (presets / "fit512.toml").write_text(PRESET)
    (h.WORK / "tk-store" / "cold").mkdir(parents=True)
    port = h.free_port()
    tk = h.Server("thumbkit", [str(h.TK), "serve", "--listen", f"127.0.0.1:{port}", "--storage",
                               f"fs:{h.WORK / 'tk-store'}", "--preset-files", str(presets), "--log", "info",
                               "--memory-cache", "256MiB"], port, ready="/healthz")
    th = h.thumbor(h.WORK / "tk-store")
    figures = {}
    try:
        for rnd in range(args.rounds):
            measure(tk, th, inputs, rnd, "quiet", figures)
            with Busy():
                measure(tk, th, inputs, rnd, "busy", figures)
        idle, loaded, rendered = backlog(tk, inputs, args.hit_seconds)
    finally:
        th.stop()
        tk.stop()
    own = handled(h.WORK / "thumbkit.log", f"/t/fit512/hits/{inputs['jpeg'][0][0]}", len(idle))
    scores, sizes = psnr(inputs, presets)
    alone = pipeline_alone(presets)
    head = f"## imgproxy's method, {datetime.date.today()}: {h.CORES} cores"
    text = "\n".join([head, "", *report(figures, scores, sizes, idle, loaded, rendered, args, own),
                      *floor(figures, alone)])
    (h.WORK / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
