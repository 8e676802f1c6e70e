#!/usr/bin/env python3
"""Scale-out, measured by hand (not CI): three thumbkit instances over a 3-node Garage 2.5
cluster (replication_factor = 3, scripts/garage-cluster.sh), in one run:

1. renders per variant when the same 20 uncached URLs go to all three at once, with peers
   (THUMBKIT_PEERS) and, for comparison, without;
2. cache-hit requests/s on an owner and on a non-owner (its hot cache), with wrk;
3. one instance stopped (SIGTERM) mid-load: failed requests on the other two;
4. one Garage node stopped mid-load: failed requests.

Prints a Markdown report (also written to target/fleet/results.md).
Usage: benches/fleet/run  (builds thumbkit in release and installs Garage once)
"""
import concurrent.futures as cf
import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "target" / "fleet"
TK = ROOT / "target" / "release" / "thumbkit"
PRESETS = ["thumb", "small", "medium", "og"]
SECRET = "fleet-bench-peer-secret-0123456789"
PORTS = [18181, 18182, 18183]
GARAGE = [f"http://127.0.0.1:{p}" for p in (3900, 3910, 3920)]


def get(port, path, method="GET", body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def metric(port, name, labels=()):
    _, _, body = get(port, "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        metric_name, _, rest = series.partition("{")
        if metric_name == name and all(label in rest for label in labels):
            total += float(value)
    return total


class Instance:
    def __init__(self, i, prefix, peers, endpoint):
        self.port = PORTS[i]
        env = {**os.environ, **GARAGE_ENV,
               "AWS_ENDPOINT_URL": endpoint,
               "THUMBKIT_STORAGE": f"s3://photos/{prefix}",
               "THUMBKIT_LISTEN": f"127.0.0.1:{self.port}",
               "THUMBKIT_PRESETS": str(ROOT / "presets"),
               "THUMBKIT_LOG": "warn",
               "THUMBKIT_RENDER_QUEUE": "64"}
        if peers:
            env["THUMBKIT_PEERS"] = ",".join(f"http://127.0.0.1:{p}" for p in PORTS)
            env["THUMBKIT_PEER_SECRET"] = SECRET
        self.log = open(WORK / f"thumbkit-{i}.log", "ab")
        self.proc = subprocess.Popen([str(TK), "serve"], env=env, stdout=self.log, stderr=self.log)
        for _ in range(200):
            try:
                if get(self.port, "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"thumbkit {i} did not start: see {WORK}/thumbkit-{i}.log")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def fleet(prefix, peers, endpoints=None):
    endpoints = endpoints or GARAGE
    return [Instance(i, prefix, peers, endpoints[i % len(endpoints)]) for i in range(3)]


def upload(port, keys):
    photos = sorted((ROOT / "fixtures").glob("Landscape_*.jpg"))
    for n, key in enumerate(keys):
        # A distinct original per key: the photo with a comment appended after its end.
        data = photos[n % len(photos)].read_bytes() + f"\n{key}".encode()
        status, _, body = get(port, f"/v1/originals/{key}", "PUT", data)
        assert status in (200, 201), (status, body[:200])


def burst(instances, urls):
    """Every URL to every instance at once; returns the statuses."""
    jobs = [(i.port, u) for i in instances for u in urls]
    with cf.ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda j: get(*j)[0], jobs))


def renders_per_variant(peers):
    prefix = f"burst-{'peers' if peers else 'alone'}-{time.time():.0f}"
    instances = fleet(prefix, peers)
    try:
        keys = [f"r/{n}.jpg" for n in range(5)]
        upload(instances[0].port, keys)
        urls = [f"/t/{p}/{k}" for k in keys for p in PRESETS]
        statuses = burst(instances, urls)
        renders = sum(metric(i.port, "thumbkit_renders_total") for i in instances)
        asked = sum(metric(i.port, "thumbkit_peer_requests_total", ['outcome="ok"']) for i in instances)
        return renders / len(urls), sum(s != 200 for s in statuses), asked, instances, urls
    except BaseException:
        for i in instances:
            i.stop()
        raise


def wrk_rps(port, path, seconds=5):
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def load_while(instances, urls, targets, action, at):
    """Sends `urls` in waves to `targets` (indexes), runs `action` once `at` of them are done;
    returns failures per target."""
    failures = {t: 0 for t in targets}
    done = [0]
    fired = threading.Event()

    def one(job):
        t, url = job
        try:
            ok = get(instances[t].port, url)[0] == 200
        except OSError:
            ok = False
        done[0] += 1
        if done[0] >= at and not fired.is_set():
            fired.set()
            threading.Thread(target=action).start()
        return t, ok

    jobs = [(t, u) for u in urls for t in targets]
    with cf.ThreadPoolExecutor(12) as pool:
        for t, ok in pool.map(one, jobs):
            failures[t] += not ok
    return failures


def main():
    global GARAGE_ENV
    WORK.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GARAGE_DIR": str(WORK / "garage")}
    out = subprocess.run([str(ROOT / "scripts" / "garage-cluster.sh")], env=env,
                         capture_output=True, text=True, check=True).stdout
    GARAGE_ENV = {}
    for line in out.splitlines():
        if line.startswith("export "):
            for pair in line[len("export "):].split():
                k, _, v = pair.partition("=")
                GARAGE_ENV[k] = v
    report = ["# Scale-out: 3 instances over a 3-node Garage 2.5 (replication_factor = 3)", ""]
    try:
        alone, alone_failed, _, instances, _ = renders_per_variant(peers=False)
        for i in instances:
            i.stop()
        with_peers, failed, asked, instances, urls = renders_per_variant(peers=True)
        report += [
            "The same 20 uncached URLs (5 photos x 4 presets) sent to all three at once:", "",
            "| | renders per variant | failed requests |", "|---|---|---|",
            f"| without peers | {alone:.2f} | {alone_failed} |",
            f"| with THUMBKIT_PEERS | {with_peers:.2f} | {failed} |", "",
            f"Peer requests answered by the owner: {asked:.0f} (2 per variant: one per non-owner).", ""]
        # Cache hits on an owner and on a non-owner's hot cache.
        url = urls[0]
        rates = [wrk_rps(i.port, url) for i in instances]
        if all(r is not None for r in rates):
            report += ["Cache hits of one variant with wrk (2 threads, 16 connections, 5 s), per instance "
                       "(one owns it, two serve it from their hot cache):", "",
                       "| instance | req/s |", "|---|---|"]
            report += [f"| {n} | {r:,.0f} |" for n, r in enumerate(rates)]
            report.append("")
        for i in instances:
            i.stop()

        # An instance stopped mid-load.
        instances = fleet(f"stop-{time.time():.0f}", peers=True)
        keys = [f"s/{n}.jpg" for n in range(30)]
        upload(instances[0].port, keys)
        urls = [f"/t/{p}/{k}" for k in keys for p in PRESETS]
        failures = load_while(instances, urls, [0, 1, 2], instances[1].stop, at=len(urls))
        report += ["One instance (1) stopped with SIGTERM a third into 120 uncached URLs sent to all three:", "",
                   "| instance | failed requests |", "|---|---|"]
        report += [f"| {t}{' (stopped)' if t == 1 else ''} | {f} |" for t, f in failures.items()]
        report.append("")
        for i in instances:
            i.stop()

        # A Garage node stopped mid-load (the instances use nodes 0 and 1 as endpoints).
        instances = fleet(f"node-{time.time():.0f}", peers=True, endpoints=GARAGE[:2])
        keys = [f"n/{n}.jpg" for n in range(30)]
        upload(instances[0].port, keys)
        urls = [f"/t/{p}/{k}" for k in keys for p in PRESETS]
        stop_node = lambda: subprocess.run([str(ROOT / "scripts" / "garage-cluster.sh"), "stop", "2"], env=env)
        failures = load_while(instances, urls, [0, 1, 2], stop_node, at=len(urls))
        report += ["Garage node 2 stopped a third into 120 uncached URLs sent to all three instances:", "",
                   f"Failed requests: {sum(failures.values())} of {3 * len(urls)}.", ""]
        for i in instances:
            i.stop()
    finally:
        subprocess.run([str(ROOT / "scripts" / "garage-cluster.sh"), "stop"], env=env)
    text = "\n".join(report)
    (WORK / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
