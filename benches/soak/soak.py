#!/usr/bin/env python3
"""Soak, by hand (not CI): one release `thumbkit serve` on the fs store, in one run:

1. idle: memory hits alone at a fixed rate, for their p50/p99;
2. capacity: cold renders of distinct variants at saturation, for renders/s (C);
3. soak: SOAK_SECONDS (default 600) of cold requests arriving at 2 x C per second (open loop:
   they do not wait for each other), with the same memory hits as in 1 alongside.

Reports: RSS at start, end and peak (VmRSS sampled each second, VmHWM), answers by status
(503s must carry Retry-After), hit p50/p99 idle and under the backlog, and that the process
is alive at the end. Prints Markdown, also written to target/soak/results.md.
Usage: benches/soak/run
"""
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "target" / "soak"
TK = ROOT / "target" / "release" / "thumbkit"
PORT = 18190
SOAK = int(os.environ.get("SOAK_SECONDS", "600"))
PHOTO = ROOT / "fixtures" / "2569067123_aca715a2ee_o.jpg"  # 6 MP camera photo
ORIGINALS = 3000
PRESETS = 100  # 3000 x 100 = 300,000 distinct variants, none rendered twice
HIT_RATE = 200  # memory hits per second, on 4 connections
HOT = "/t/thumb/hot.jpg"


class Client:
    """One keep-alive connection."""

    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)

    def get(self, path):
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            r.read()
            return r.status, r.getheader("Retry-After")
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            return 0, None


def status_of(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def prepare():
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "data" / "s").mkdir(parents=True)
    (WORK / "presets").mkdir()
    photo = PHOTO.read_bytes()
    for i in range(ORIGINALS):
        # Bytes after the end of image: each copy its own hash, the same picture.
        (WORK / "data" / "s" / f"{i}.jpg").write_bytes(photo + f"copy {i}".encode())
    (WORK / "data" / "hot.jpg").write_bytes(photo)
    shutil.copy(ROOT / "presets" / "thumb.toml", WORK / "presets" / "thumb.toml")
    for p in range(PRESETS):
        (WORK / "presets" / f"p{p}.toml").write_text(
            f'width = {200 + p}\nheight = {200 + p}\nformat = "jpeg"\nquality = 80\n')


def start():
    env = {**os.environ,
           "THUMBKIT_STORAGE": f"fs:{WORK / 'data'}",
           "THUMBKIT_LISTEN": f"127.0.0.1:{PORT}",
           "THUMBKIT_PRESETS": str(WORK / "presets"),
           "THUMBKIT_LOG": "warn"}
    if Client().get("/healthz")[0] != 0:
        raise SystemExit(f"something already answers on port {PORT}: stop it first")
    log = open(WORK / "thumbkit.log", "ab")
    proc = subprocess.Popen([str(TK), "serve"], env=env, stdout=log, stderr=log)
    for _ in range(200):
        if proc.poll() is not None:
            break
        if Client().get("/healthz")[0] == 200:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("thumbkit did not start: see target/soak/thumbkit.log")


def cold_paths():
    for p in range(PRESETS):
        for i in range(ORIGINALS):
            yield f"/t/p{p}/s/{i}.jpg"


def hits(seconds, stop, latencies):
    """HIT_RATE memory hits per second on 4 connections, each timed."""
    def one(k):
        c, period = Client(), 4 / HIT_RATE
        due = time.monotonic()
        while not stop.is_set() and time.monotonic() < end:
            t = time.monotonic()
            status, _ = c.get(HOT)
            if status == 200:
                latencies.append(time.monotonic() - t)
            due += period
            time.sleep(max(0.0, due - time.monotonic()))
    end = time.monotonic() + seconds
    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    return threads


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def capacity(paths, seconds=30):
    """Cold renders per second with 8 clients that wait for each answer."""
    done, stop = Counter(), time.monotonic() + seconds
    lock = threading.Lock()

    def client():
        c = Client()
        while time.monotonic() < stop:
            with lock:
                path = next(paths)
            status, _ = c.get(path)
            with lock:
                done[status] += 1
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[200] / seconds, done


def soak(proc, paths, rate):
    """Cold requests arriving at `rate` per second for SOAK seconds, hits alongside."""
    answers, retry_after_missing = Counter(), 0
    lock, stop = threading.Lock(), threading.Event()
    latencies, rss = [], []
    hit_threads = hits(SOAK, stop, latencies)
    pending = []
    pool_free = threading.Semaphore(256)  # at most 256 requests waiting at once

    def cold(path):
        nonlocal retry_after_missing
        status, retry = Client().get(path)
        with lock:
            answers[status] += 1
            if status == 503 and not retry:
                retry_after_missing += 1
        pool_free.release()

    started = time.monotonic()
    next_sample, sent = started, 0
    while time.monotonic() - started < SOAK:
        now = time.monotonic()
        if now >= next_sample:
            rss.append(status_of(proc.pid, "VmRSS"))
            next_sample += 1
        due = started + sent / rate
        if now < due:
            time.sleep(min(due - now, 0.01))
            continue
        if not pool_free.acquire(timeout=0.01):
            with lock:
                answers["client backlog full"] += 1
            sent += 1
            continue
        t = threading.Thread(target=cold, args=(next(paths),), daemon=True)
        t.start()
        pending.append(t)
        sent += 1
        pending = [p for p in pending if p.is_alive()]
    stop.set()
    print(f"sent {sent} cold requests in {time.monotonic() - started:.0f} s "
          f"({sent / (time.monotonic() - started):.1f}/s)", flush=True)
    for t in hit_threads + pending:
        t.join(timeout=120)
    return answers, retry_after_missing, latencies, rss


def main():
    if not TK.exists():
        raise SystemExit("build first: cargo build --release")
    prepare()
    proc = start()
    try:
        run(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def run(proc):
    c = Client()
    assert c.get(HOT)[0] == 200  # the hot variant, in memory from now on
    rss_start = status_of(proc.pid, "VmRSS")
    idle = []
    stop = threading.Event()
    for t in hits(30, stop, idle):
        t.join()
    paths = cold_paths()
    cap, cap_answers = capacity(paths)
    rate = 2 * cap
    print(f"capacity {cap:.1f} renders/s ({dict(cap_answers)}); soaking at {rate:.1f}/s "
          f"for {SOAK} s", flush=True)
    answers, missing_retry, loaded, rss = soak(proc, paths, rate)
    alive = proc.poll() is None
    rss_end, peak = status_of(proc.pid, "VmRSS"), status_of(proc.pid, "VmHWM")
    hit_after = Client().get(HOT)[0]
    proc.terminate()
    proc.wait(timeout=30)
    mib = 1 << 20
    third = len(rss) // 3
    lines = [
        f"# Soak: {SOAK} s at twice the render capacity",
        "",
        f"- render capacity (8 waiting clients, 30 s): **{cap:.1f} renders/s**; "
        f"soak arrival rate {rate:.1f} cold requests/s, with {HIT_RATE} memory hits/s",
        f"- answers to the cold requests: {dict(answers)}; 503s without Retry-After: "
        f"{missing_retry}",
        f"- RSS: start {rss_start / mib:.0f} MiB, end {rss_end / mib:.0f} MiB, peak (VmHWM) "
        f"{peak / mib:.0f} MiB; mean of the first third {statistics.mean(rss[:third]) / mib:.0f}"
        f" MiB, of the last third {statistics.mean(rss[-third:]) / mib:.0f} MiB",
        f"- memory hits, idle: p50 {pct(idle, .5):.2f} ms, p99 {pct(idle, .99):.2f} ms "
        f"({len(idle)} hits); under the backlog: p50 {pct(loaded, .5):.2f} ms, "
        f"p99 {pct(loaded, .99):.2f} ms ({len(loaded)} hits); p99 ratio "
        f"{pct(loaded, .99) / pct(idle, .99):.2f}x",
        f"- alive at the end: {alive}; a hit after the soak: {hit_after}",
    ]
    report = "\n".join(lines)
    print(report)
    (WORK / "results.md").write_text(report + "\n")
    if not alive:
        sys.exit(1)


if __name__ == "__main__":
    main()
