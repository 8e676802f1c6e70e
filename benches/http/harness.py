#!/usr/bin/env python3
"""thumbkit over HTTP against its peers, every server on loopback, in interleaved rounds.

Run through `benches/http/run` (which installs nginx, wrk, libvips-tools, jpegtran and
thumbor, and builds thumbkit in release). Parts:

1. cache hits: a hash-pinned /t/thumb URL served from memory, against nginx serving the
   same bytes as a static file with the same headers, at 16 and 64 connections (wrk);
2. cold renders: every photo requested once per round under a fresh content hash, at
   concurrency = cores, against thumbor (file loader, no result storage, --processes =
   cores), against thumbkit's pipeline called directly (`thumbkit bench-worker`, the
   service's overhead) and against vipsthumbnail; PSNR of every output against a
   full-resolution Lanczos3 reference (`thumbkit bench --psnr-of`);
3. with --s3, renders from S3: the same photos in a single-node Garage bucket, with the
   storage calls per thumbnail read from /metrics;
4. uploads with `?pregenerate=all`: time per upload against one cold `large` render of the
   same photo over HTTP, and variants rendered per CPU second.

Peak RSS of each server's process tree is the kernel's high-water mark (VmHWM), read when needed.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# THUMBKIT_BIN: another build to measure (an earlier one, for before/after figures).
TK = Path(os.environ.get("THUMBKIT_BIN", ROOT / "target" / "release" / "thumbkit"))
CORES = os.cpu_count() or 2
TOKEN = "bench-token"
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK


def rss_bytes(pid, field="VmRSS"):
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class Server:
    """A server process on loopback; its peak RSS is the kernel's high-water mark (VmHWM) of
    each process in its tree, so that no sampler takes CPU from the servers being measured
    (a thread scanning /proc every 20 ms cost thumbkit a tenth of its cache-hit rate)."""

    def __init__(self, name, argv, port, env=None, ready="/"):
        self.name, self.port = name, port
        log = open(WORK / f"{name}.log", "w")
        self.proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        deadline = time.time() + 60
        while True:
            try:
                status, _, _ = get(port, ready)
                if status < 500:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{name} did not start: see {WORK / (name + '.log')}")
            time.sleep(0.1)
        self.kept = 0

    @property
    def peak(self):
        """The largest RSS since the start or the last reset_peak (the tree's sum of VmHWM)."""
        if self.proc.poll() is None:
            self.kept = max(self.kept, rss_bytes(self.proc.pid, "VmHWM"))
        return self.kept

    def reset_peak(self):
        """Starts the high-water mark again from the current RSS (clear_refs 5, Linux 4.0+)."""
        for p in tree(self.proc.pid):
            try:
                Path(f"/proc/{p}/clear_refs").write_text("5")
            except OSError:
                pass
        self.kept = 0

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        _ = self.peak  # the high-water mark is gone with the process
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# --- the photos ---------------------------------------------------------------------------

CAMERA = [
    "IMG_9424.JPG",  # 4032x3024, Display P3 profile
    "42_IndexError.jpg",  # 4032x3024
    "HMD_Nokia_8.3_5G.jpg",  # 4608x1976
    "30-type_error.jpg",  # 3872x2403
    "2569067123_aca715a2ee_o.jpg",  # 2725x2225
]
# Lossless jpegtran transforms for the other aspect ratios and orientations.
DERIVED = [
    ("IMG_9424-portrait.jpg", "IMG_9424.JPG", ["-rotate", "90"]),
    ("42_IndexError-portrait-4x5.jpg", "42_IndexError.jpg", ["-rotate", "270", "-crop", "2416x3024+0+0"]),
    ("HMD_Nokia-square.jpg", "HMD_Nokia_8.3_5G.jpg", ["-crop", "1976x1976+1312+0"]),
]


def photos():
    out = WORK / "photos"
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for name in CAMERA:
        shutil.copy(ROOT / "fixtures" / name, out / name)
        names.append(name)
    for name, src, args in DERIVED:
        with open(out / name, "wb") as f:
            subprocess.run(["jpegtran", "-copy", "all", *args, str(ROOT / "fixtures" / src)], stdout=f, check=True)
        names.append(name)
    return [(n, (out / n).read_bytes()) for n in names]


def jpg(name):
    """The name every tool gives its output of `name` (as vipsthumbnail's `%s.jpg`)."""
    return Path(name).stem + ".jpg"


def fresh(data, tag):
    """The same JPEG with bytes after its end: a new content hash, the same pixels."""
    return data + f"thumbkit-bench {tag}".encode()


# --- part 1: cache hits ---------------------------------------------------------------------


def wrk(port, path, connections, seconds):
    out = subprocess.run(
        ["wrk", "-t", str(CORES), "-c", str(connections), "-d", f"{seconds}s", "--latency",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout

    def lat(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} errors on port {port}{path}")
    return rps, lat("50"), lat("99")


def nginx(root, headers):
    port = free_port()
    conf = WORK / "nginx.conf"
    adds = "\n".join(f'            add_header {k} "{v}";' for k, v in headers.items())
    conf.write_text(f"""
worker_processes {CORES};
pid {WORK}/nginx.pid;
error_log {WORK}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {WORK}/nginx-tmp;
    proxy_temp_path {WORK}/nginx-tmp;
    fastcgi_temp_path {WORK}/nginx-tmp;
    uwsgi_temp_path {WORK}/nginx-tmp;
    scgi_temp_path {WORK}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            default_type image/jpeg;
{adds}
        }}
    }}
}}
""")
    (WORK / "nginx-tmp").mkdir(exist_ok=True)
    return Server("nginx", ["nginx", "-c", str(conf), "-p", str(WORK)], port, ready="/t/thumb.jpg")


def part1(tk, args, report):
    store = WORK / "tk-store"
    original = (WORK / "photos" / "IMG_9424.JPG").read_bytes()
    (store / "hits").mkdir(parents=True, exist_ok=True)
    (store / "hits" / "photo.jpg").write_bytes(original)
    status, headers, _ = get(tk.port, "/t/thumb/hits/photo.jpg")
    assert status == 200, status
    pin = headers["etag"].strip('"').split("-")[0]
    path = f"/t/thumb/hits/photo.jpg?v={pin}"
    status, headers, body = get(tk.port, path)
    assert status == 200 and headers.get("x-cache") == "hit-memory", headers
    root = WORK / "nginx-root"
    (root / "t").mkdir(parents=True, exist_ok=True)
    (root / "t" / "thumb.jpg").write_bytes(body)
    same = {k: headers[k] for k in ("cache-control", "vary", "x-cache") if k in headers}
    ng = nginx(root, same)
    try:
        _, ng_headers, ng_body = get(ng.port, "/t/thumb.jpg")
        assert ng_body == body
        results = {}
        for _ in range(args.rounds):
            for c in args.connections:
                for name, server, p in (("thumbkit", tk, path), ("nginx", ng, "/t/thumb.jpg")):
                    results.setdefault((c, name), []).append(wrk(server.port, p, c, args.seconds))
                    print(f"  hits, {c} connections, {name}: {results[(c, name)][-1][0]:,.0f} req/s", flush=True)
        ng_peak = ng.peak
    finally:
        ng.stop()
    report.append(f"### 1. Cache hits: a pinned `/t/thumb` ({len(body)} bytes) from memory against nginx's static file")
    report.append("")
    report.append(f"wrk, {CORES} threads, {args.seconds} s per run, {args.rounds} interleaved rounds, medians. "
                  f"Same body and Cache-Control; nginx with {CORES} workers, access log off.")
    report.append("")
    report.append("| connections | server | req/s | p50 ms | p99 ms | req/s ratio | p99 ratio |")
    report.append("|---|---|---|---|---|---|---|")
    for c in args.connections:
        tk_rps, tk50, tk99 = (median([r[i] for r in results[(c, "thumbkit")]]) for i in range(3))
        ng_rps, ng50, ng99 = (median([r[i] for r in results[(c, "nginx")]]) for i in range(3))
        report.append(f"| {c} | thumbkit | {tk_rps:,.0f} | {tk50:.2f} | {tk99:.2f} | {tk_rps / ng_rps:.2f}× | {tk99 / ng99:.2f}× |")
        report.append(f"| {c} | nginx | {ng_rps:,.0f} | {ng50:.2f} | {ng99:.2f} | | |")
    report.append("")
    return ng_peak


# --- part 2: cold renders -------------------------------------------------------------------


def thumbor(root):
    port = free_port()
    conf = WORK / "thumbor.conf"
    conf.write_text(f"""
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = '{root}'
STORAGE = 'thumbor.storages.no_storage'
RESULT_STORAGE = None
QUALITY = 80
RESPECT_ORIENTATION = True
PRESERVE_EXIF_INFO = False
AUTO_WEBP = False
MAX_AGE = 86400
""")
    exe = Path(sys.executable).parent / "thumbor"
    return Server("thumbor", [str(exe), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf),
                              "--processes", str(CORES)], port, ready="/healthcheck")


def fetch_all(port, paths, clients=CORES):
    """GETs `paths` at concurrency `clients` (cores by default); returns (seconds, [body])."""
    def one(p):
        status, _, body = get(port, p)
        if status != 200:
            raise SystemExit(f"GET {p} on {port}: {status} {body[:200]!r}")
        return body
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        bodies = list(pool.map(one, paths))
    return time.perf_counter() - t, bodies


def processes(commands, env=None):
    """Runs the commands in parallel; returns (seconds, CPU seconds, peak RSS of any)."""
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env={**os.environ, **(env or {})}) for c in commands]
    cpu, peak = 0.0, 0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            raise SystemExit(f"{commands[0][0]} failed ({status})")
        cpu += usage.ru_utime + usage.ru_stime
        peak = max(peak, usage.ru_maxrss * 1024)
    return time.perf_counter() - t, cpu, peak


def part2(tk, th, pics, args, report, base=None):
    store = WORK / "tk-store"
    cold = store / "cold"
    cold.mkdir(parents=True, exist_ok=True)
    # --baseline: an earlier build, over its own store (so nothing the other rendered is a hit).
    base_cold = WORK / "base-store" / "cold"
    tools = ("thumbkit", *(("baseline",) if base else ()), "thumbor", "pipeline", "vipsthumbnail")
    out = {tool: WORK / "out" / tool for tool in tools}
    for d in out.values():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    figures = {tool: {"rate": [], "cpu": [], "bytes": 0} for tool in out}
    peaks = {tool: 0 for tool in tools}
    for r in range(args.rounds):
        names = []
        for name, data in pics:
            fname = f"r{r}-{name}"
            (cold / fname).write_bytes(fresh(data, f"cold {r} {time.time()}"))
            if base:
                base_cold.mkdir(parents=True, exist_ok=True)
                (base_cold / fname).write_bytes(fresh(data, f"base {r} {time.time()}"))
            names.append(fname)
        # thumbkit over HTTP (and the baseline build), then thumbor, then the bare pipeline,
        # then vipsthumbnail.
        servers = [("thumbkit", tk, lambda n: f"/t/thumb/cold/{n}")]
        if base:
            servers.append(("baseline", base, lambda n: f"/t/thumb/cold/{n}"))
        servers.append(("thumbor", th, lambda n: f"/unsafe/fit-in/320x320/cold/{n}"))
        # Which build goes first alternates by round, so neither always meets a warmer machine.
        if base and r % 2:
            servers[0], servers[1] = servers[1], servers[0]
        for tool, server, path in servers:
            server.reset_peak()
            before = server.cpu()
            secs, bodies = fetch_all(server.port, [path(n) for n in names])
            cpu = server.cpu() - before
            peaks[tool] = max(peaks[tool], server.peak)
            figures[tool]["rate"].append(len(names) / secs)
            figures[tool]["cpu"].append(cpu * 1000 / len(names))
            if r == args.rounds - 1:
                for n, b in zip(names, bodies):
                    (out[tool] / jpg(n)).write_bytes(b)
        files = [str(cold / n) for n in names]
        halves = [files[i::CORES] for i in range(CORES)]
        secs, cpu, peak = processes(
            [[str(TK), "bench-worker", "--preset", "thumb", "--preset-files", str(ROOT / "presets"),
              "--out-dir", str(out["pipeline"]), *h] for h in halves])
        figures["pipeline"]["rate"].append(len(files) / secs)
        figures["pipeline"]["cpu"].append(cpu * 1000 / len(files))
        peaks["pipeline"] = max(peaks["pipeline"], peak)
        secs, cpu, peak = processes(
            [["vipsthumbnail", *h, "--size", "320x320", "-o",
              f"{out['vipsthumbnail']}/%s.jpg[Q=80,optimize_coding,strip]"] for h in halves],
            env={"VIPS_CONCURRENCY": "1"})
        figures["vipsthumbnail"]["rate"].append(len(files) / secs)
        figures["vipsthumbnail"]["cpu"].append(cpu * 1000 / len(files))
        peaks["vipsthumbnail"] = max(peaks["vipsthumbnail"], peak)
        for n in names:
            (cold / n).unlink()
            if base:
                (base_cold / n).unlink()
    # PSNR of the last round's outputs, per photo and tool.
    last = [f"r{args.rounds - 1}-{name}" for name, _ in pics]
    psnr = {}
    for (name, data), n in zip(pics, last):
        original = WORK / "photos" / name
        outputs = [out[t] / jpg(n) for t in tools]
        lines = subprocess.run(
            [str(TK), "bench", "--preset", "thumb", "--preset-files", str(ROOT / "presets"),
             "--images", str(original), "--psnr-of", ",".join(str(o) for o in outputs)],
            capture_output=True, text=True, check=True).stdout.split("\n")
        for tool, line in zip(tools, lines):
            parts = line.split()
            psnr[(name, tool)] = (parts[1], float(parts[2]))
        for tool in out:
            figures[tool]["bytes"] += (out[tool] / jpg(n)).stat().st_size

    report.append(f"### 2. Cold renders: `thumb` (inside 320×320, JPEG q80), {len(pics)} photos, concurrency {CORES}")
    report.append("")
    report.append(f"Each photo once per round under a fresh content hash (bytes appended after its end), "
                  f"{args.rounds} interleaved rounds, medians. thumbor {thumbor_version()}: file loader, no result "
                  f"storage, {CORES} processes, RESPECT_ORIENTATION. Pipeline: `thumbkit bench-worker`, "
                  f"{CORES} processes. vipsthumbnail: {CORES} processes, VIPS_CONCURRENCY=1.")
    report.append("")
    report.append("| tool | images/s | ratio to thumbor | CPU ms/image | peak RSS MiB | output bytes |")
    report.append("|---|---|---|---|---|---|")
    th_rate = median(figures["thumbor"]["rate"])
    for tool in out:
        f = figures[tool]
        rate = median(f["rate"])
        report.append(f"| {tool} | {rate:.1f} | {rate / th_rate:.2f}× | {median(f['cpu']):.0f} | "
                      f"{peaks[tool] / 2**20:.0f} | {f['bytes']:,} |")
    tk_rate, pl_rate = median(figures["thumbkit"]["rate"]), median(figures["pipeline"]["rate"])
    report.append("")
    report.append(f"Service overhead over the bare pipeline: {(pl_rate / tk_rate - 1) * 100:.0f}% "
                  f"(images/s {tk_rate:.1f} against {pl_rate:.1f}).")
    if base:
        b_rate = median(figures["baseline"]["rate"])
        report.append("")
        report.append(f"This build against the baseline ({args.baseline}), same rounds: "
                      f"{tk_rate / b_rate:.3f}× the images/s, "
                      f"{median(figures['thumbkit']['cpu']) / median(figures['baseline']['cpu']):.3f}× the CPU per image.")
    report.append("")
    report.append("PSNR (dB) against a full-resolution Lanczos3 reference, outputs decoded colour-managed:")
    report.append("")
    report.append("| photo | size | " + " | ".join(tools) + " |")
    report.append("|---|---|" + "---|" * len(tools))
    for name, _ in pics:
        cells = [f"{psnr[(name, t)][1]:.2f}" for t in tools]
        report.append(f"| {name} | {psnr[(name, 'thumbkit')][0]} | " + " | ".join(cells) + " |")
    report.append("")
    return peaks["thumbkit"], tk_rate


def thumbor_version():
    exe = Path(sys.executable).parent / "thumbor"
    return subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.split()[1]


# --- part 3: renders from S3 (Garage) -------------------------------------------------------


def storage_calls(port):
    """thumbkit's storage calls so far by `op kind`, from /metrics."""
    _, _, text = get(port, "/metrics")
    out = {}
    for line in text.decode().splitlines():
        m = re.match(r'thumbkit_storage_requests_total\{(.*)\} ([\d.e+]+)$', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            key = f"{labels.get('op')} {labels.get('kind')}"
            out[key] = out.get(key, 0) + float(m.group(2))
    return out


def garage():
    """A single-node Garage (scripts/garage-dev.sh) and the environment that reaches it."""
    env = {**os.environ, "GARAGE_DIR": str(WORK / "garage")}
    out = subprocess.run([str(ROOT / "scripts" / "garage-dev.sh")], capture_output=True, text=True,
                         env=env, check=True).stdout
    found = {}
    for line in out.splitlines():
        for pair in line.removeprefix("export ").split():
            k, _, v = pair.partition("=")
            found[k] = v
    return found


def part3(pics, fs_rate, args, report):
    env = garage()
    port = free_port()
    s3 = Server("thumbkit-s3", [str(TK), "serve", "--listen", f"127.0.0.1:{port}", "--storage",
                                "s3://photos/bench", "--preset-files", str(ROOT / "presets"),
                                "--log", "warn", "--api-token", TOKEN], port, env=env, ready="/healthz")
    try:
        rates, cpus, per_image = [], [], {}
        for r in range(args.rounds):
            names = []
            for name, data in pics:
                key = f"s3/r{r}-{time.time():.0f}-{name}"
                status, _, reply = get(port, f"/v1/originals/{key}", "PUT", fresh(data, f"s3 {r} {time.time()}"),
                                       {"Authorization": f"Bearer {TOKEN}", "Content-Type": "image/jpeg"})
                if status not in (200, 201):
                    raise SystemExit(f"S3 upload {name}: {status} {reply[:300]!r}")
                names.append(key)
            get(port, "/healthz")
            before_calls, before_cpu = storage_calls(port), s3.cpu()
            secs, _ = fetch_all(port, [f"/t/thumb/{k}" for k in names])
            # The variants' PUTs happen behind the responses: let them land before counting.
            time.sleep(1.0)
            after = storage_calls(port)
            cpus.append((s3.cpu() - before_cpu) * 1000 / len(names))
            rates.append(len(names) / secs)
            for k, v in after.items():
                d = v - before_calls.get(k, 0)
                if d:
                    per_image.setdefault(k, []).append(d / len(names))
        peak = s3.peak
    finally:
        s3.stop()
        subprocess.run([str(ROOT / "scripts" / "garage-dev.sh"), "stop"],
                       env={**os.environ, "GARAGE_DIR": str(WORK / "garage")})
    rate = median(rates)
    calls = ", ".join(f"{k} {median(v):.1f}" for k, v in sorted(per_image.items()))
    report.append("### 3. Renders from S3 (single-node Garage 2.5 on loopback)")
    report.append("")
    report.append(f"The same photos uploaded through `PUT /v1/originals` (no pre-generation), then each "
                  f"requested once as `thumb` at concurrency {CORES}, {args.rounds} rounds, medians.")
    report.append("")
    report.append("| store | images/s | vs fs store | CPU ms/image | peak RSS MiB | storage calls per thumbnail |")
    report.append("|---|---|---|---|---|---|")
    report.append(f"| Garage | {rate:.1f} | {rate / fs_rate:.2f}× | {median(cpus):.0f} | {peak / 2**20:.0f} | {calls} |")
    report.append("")


# --- part 4: uploads with pre-generation ----------------------------------------------------


def renders(port):
    """thumbkit's variants rendered so far, from /metrics."""
    _, _, text = get(port, "/metrics")
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("thumbkit_renders_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def part4(tk, pics, args, report):
    upload, large, cpu_per_variant, variants_total = [], [], [], 0
    cold = WORK / "tk-store" / "large"
    cold.mkdir(parents=True, exist_ok=True)
    per_photo = {}
    for r in range(args.rounds):
        for name, data in pics:
            body = fresh(data, f"upload {r} {time.time()}")
            before, rendered_before = tk.cpu(), renders(tk.port)
            t = time.perf_counter()
            status, _, reply = get(tk.port, f"/v1/originals/up/r{r}-{name}?pregenerate=all", "PUT", body,
                                   {"Authorization": f"Bearer {TOKEN}", "Content-Type": "image/jpeg"})
            took = time.perf_counter() - t
            cpu = tk.cpu() - before
            if status not in (200, 201):
                raise SystemExit(f"upload {name}: {status} {reply[:300]!r}")
            rendered = int(renders(tk.port) - rendered_before)
            variants_total += rendered
            upload.append(took)
            cpu_per_variant.append((rendered, cpu))
            (cold / f"r{r}-{name}").write_bytes(fresh(data, f"large {r} {time.time()}"))
            t = time.perf_counter()
            status, _, _ = get(tk.port, f"/t/large/large/r{r}-{name}")
            one = time.perf_counter() - t
            assert status == 200
            large.append(one)
            per_photo.setdefault(name, []).append((took, one))
    renders_per_cpu = sum(n for n, _ in cpu_per_variant) / sum(c for _, c in cpu_per_variant)
    report.append("### 4. Uploads with `?pregenerate=all` (every shipped preset, both formats of `auto`)")
    report.append("")
    report.append(f"One upload at a time, {args.rounds} rounds; against a cold `large` JPEG request for "
                  f"the same photo under a fresh hash. Medians.")
    report.append("")
    report.append("| photo | upload ms | one `large` ms | ratio |")
    report.append("|---|---|---|---|")
    for name, _ in pics:
        u = median([a for a, _ in per_photo[name]]) * 1000
        l = median([b for _, b in per_photo[name]]) * 1000
        report.append(f"| {name} | {u:.0f} | {l:.0f} | {u / l:.2f}× |")
    u, l = median(upload) * 1000, median(large) * 1000
    report.append(f"| **all** | **{u:.0f}** | **{l:.0f}** | **{u / l:.2f}×** |")
    report.append("")
    report.append(f"Variants rendered per upload: {variants_total / max(1, len(upload)):.0f}; "
                  f"{renders_per_cpu:.1f} variants per CPU second (the upload's validation, "
                  f"BlurHash and hashing included).")
    report.append("")


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    ap.add_argument("--connections", type=int, nargs="+", default=[32])
    ap.add_argument("--parts", type=int, nargs="+", default=[1, 2, 4], help="which of parts 1, 2, 4 to run")
    ap.add_argument("--s3", action="store_true", help="also part 3: renders from S3 on Garage")
    ap.add_argument("--out", default=str(ROOT / "target" / "bench-http"))
    ap.add_argument("--baseline", help="another thumbkit binary (an earlier build) rendered cold in the "
                    "same rounds as this one, for before/after figures of a change")
    args = ap.parse_args()
    WORK = Path(args.out).resolve()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    pics = photos()
    memory_cache = 256 << 20
    port = free_port()
    tk = Server("thumbkit", [str(TK), "serve", "--listen", f"127.0.0.1:{port}", "--storage",
                             f"fs:{WORK / 'tk-store'}", "--preset-files", str(ROOT / "presets"),
                             "--log", "warn", "--api-token", TOKEN, "--memory-cache", "256MiB"],
                port, ready="/healthz")
    th = thumbor(WORK / "tk-store")
    base = None
    if args.baseline:
        (WORK / "base-store").mkdir(exist_ok=True)
        base_port = free_port()
        base = Server("baseline", [args.baseline, "serve", "--listen", f"127.0.0.1:{base_port}", "--storage",
                                   f"fs:{WORK / 'base-store'}", "--preset-files", str(ROOT / "presets"),
                                   "--log", "warn", "--api-token", TOKEN, "--memory-cache", "256MiB"],
                      base_port, ready="/healthz")
    report = []
    try:
        ng_peak = part1(tk, args, report) if 1 in args.parts else 0
        tk_cold_peak, fs_rate = part2(tk, th, pics, args, report, base) if 2 in args.parts else (0, float("nan"))
        if args.s3:
            part3(pics, fs_rate, args, report)
        else:
            report.append("### 3. Renders from S3 (Garage)")
            report.append("")
            report.append("Not run: pass `--s3` (installs Garage 2.5.0 with cargo once, ~17 min).")
            report.append("")
        if 4 in args.parts:
            part4(tk, pics, args, report)
        # The README's bound: cache + originals kept for renders + each worker's decode budget
        # + upload bodies being received (THUMBKIT_MAX_INPUT_BYTES) + 64 MiB.
        budget = memory_cache + (64 << 20) + CORES * (96 << 20) + (50 << 20) + (64 << 20)
        report.append("### Memory")
        report.append("")
        report.append(f"thumbkit's peak RSS over the whole run: {tk.peak / 2**20:.0f} MiB "
                      f"(the README's bound: memory cache {memory_cache >> 20} MiB + 64 MiB of originals + "
                      f"96 MiB × {CORES} workers + 50 MiB of upload bodies + 64 MiB "
                      f"= {budget >> 20} MiB); during cold renders {tk_cold_peak / 2**20:.0f} MiB; "
                      f"thumbor's {CORES} processes during cold renders: see the table; nginx {ng_peak / 2**20:.0f} MiB.")
        report.append("")
    finally:
        th.stop()
        tk.stop()
        if base:
            base.stop()
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    head = (f"## HTTP benchmark, {datetime.date.today()}: {CORES} cores ({cpu}), "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"{platform.system()} {platform.release()}")
    text = "\n".join([head, "", *report])
    (WORK / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
