#!/usr/bin/env python3
"""The attacks of the security review (issue: "Security defects in the new surfaces"), replayed
as a user would: against the release binary over the fs store, one configuration per item,
with raw sockets on loopback. Prints one line per attack with what thumbkit answered, and the
server's VmHWM under item 2's load against the README's bound. Exits 1 if any attack
succeeds. Usage: benches/security/replay.py [path/to/thumbkit] (default target/release)."""

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TK = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "release" / "thumbkit"
PHOTO = (ROOT / "fixtures" / "DSCN0010.jpg").read_bytes()
TOKEN = "replay-token-0123456789"
failures = []


def report(item, what, ok, got):
    print(f"{'refused ' if ok else 'ATTACK WORKED'}  {item:>3}  {what}: {got}")
    if not ok:
        failures.append(f"{item} {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`thumbkit serve` over a fresh fs store, with `env` on top of the defaults."""

    def __init__(self, env=None, port=None):
        self.root = Path(tempfile.mkdtemp(prefix="tk-replay-"))
        self.port = port or free_port()
        full = {"PATH": os.environ["PATH"], "THUMBKIT_LOG": "warn",
                "THUMBKIT_STORAGE": f"fs:{self.root}",
                "THUMBKIT_LISTEN": f"127.0.0.1:{self.port}",
                "THUMBKIT_PRESETS": str(ROOT / "presets")}
        full.update(env or {})
        self.proc = subprocess.Popen([str(TK), "serve"], env=full, cwd=self.root,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            try:
                if request(self.port, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"thumbkit did not start: {self.proc.stderr.read().decode()}")

    def hwm_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


def request(port, method, path, headers=None, body=b"", source="127.0.0.1", timeout=30):
    """One request on its own connection; (status, headers, body)."""
    headers = dict(headers or {})
    headers.setdefault("Host", f"127.0.0.1:{port}")
    if body or method in ("PUT", "POST"):
        headers.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        s.sendall(head.encode())
        try:
            s.sendall(body)
        except OSError:
            pass
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), fields, rest


def detail(body):
    try:
        return json.loads(body)["detail"][:90]
    except (ValueError, KeyError):
        return body[:60]


def auth():
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def ticket(port, key, size, content_type="image/jpeg"):
    ask = json.dumps({"key": key, "content_type": content_type, "size": size}).encode()
    status, _, body = request(port, "POST", "/v1/uploads", auth(), ask)
    assert status == 201, body
    return json.loads(body)


def tickets_and_area():
    """Items 1, 2, 3, 11, 13a: upload tickets and thumbkit's own folder."""
    key = "a-known-signing-key-0123456789"
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN, "THUMBKIT_SIGNING_KEY": key})
    try:
        port = srv.port
        t = ticket(port, "victim/p.jpg", len(PHOTO))
        # 1: a ticket URL signed (with the key) for the year 2100.
        path = f"/v1/uploads/{t['id']}"
        sig = hmac.new(key.encode(), f"{path}\nexp=4102444800".encode(), hashlib.sha256).hexdigest()
        status, _, body = request(port, "PUT", f"{path}?exp=4102444800&sig={sig}",
                                  {"Content-Type": "image/jpeg"}, PHOTO)
        report(1, "ticket URL signed until 2100", status == 403, f"{status} {detail(body)}")
        # 8: a valid signed URL with extra sig parameters.
        (srv.root / "cold").mkdir()
        shutil.copy(ROOT / "fixtures" / "Landscape_1.jpg", srv.root / "cold" / "s.jpg")
        out = subprocess.run([str(TK), "url", "cold/s.jpg", "--preset", "thumb", "--sign"], capture_output=True,
                             env={"THUMBKIT_SIGNING_KEY": key, "PATH": os.environ["PATH"]},
                             cwd=ROOT, text=True)
        url = out.stdout.strip()
        ok = request(port, "GET", url)[0]
        status, _, body = request(port, "GET", url + "&sig=x&sig=y")
        report(8, f"extra sig parameters (the URL itself: {ok})", status == 403, f"{status} {detail(body)}")
    finally:
        srv.stop()
    # 2 workers and 2 waiting: four render places in all, fewer than the five trickling PUTs.
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN, "THUMBKIT_MEMORY_CACHE": "64MiB",
                  "THUMBKIT_RENDER_WORKERS": "2", "THUMBKIT_RENDER_QUEUE": "2"})
    try:
        port = srv.port
        t = ticket(port, "victim/p.jpg", len(PHOTO))
        # 2: ten 50 MiB PUTs on a ticket declared as 1 byte, ten at once.
        small = ticket(port, "victim/one.jpg", 1)
        before = srv.hwm_kib()
        big = b"\0" * (50 << 20)
        answers = []

        def put_big():
            answers.append(request(port, "PUT", small["upload_url"],
                                   {"Content-Type": "image/jpeg"}, big)[0])
        threads = [threading.Thread(target=put_big) for _ in range(10)]
        [t_.start() for t_ in threads]
        [t_.join() for t_ in threads]
        report(2, "ten 50 MiB PUTs on a 1-byte ticket", set(answers) == {413}, sorted(set(answers)))
        # 2: five trickling PUTs, then cold renders.
        (srv.root / "cold").mkdir()
        for i in range(6):
            shutil.copy(ROOT / "fixtures" / f"Landscape_{i + 1}.jpg", srv.root / "cold" / f"{i}.jpg")
        socks = []
        for i in range(5):
            tk = ticket(port, f"trickle/{i}.jpg", len(PHOTO))
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall((f"PUT {tk['upload_url']} HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                       f"Content-Length: {len(PHOTO)}\r\n\r\n").encode() + PHOTO[:10])
            socks.append(s)
        started = time.time()
        cold = [request(port, "GET", f"/t/thumb/cold/{i}.jpg")[0] for i in range(6)]
        took = time.time() - started
        report(2, "six cold renders beside five trickling PUTs",
               set(cold) == {200} and took < 10, f"{sorted(set(cold))} in {took:.2f} s")
        for s in socks:
            s.close()
        hwm = srv.hwm_kib() // 1024
        bound = 64 + 64 + 96 * 2 + 50 + 64
        report(2, "VmHWM under that load", hwm <= bound,
               f"{before // 1024} MiB before, {hwm} MiB after; bound {bound} MiB")
        # 11: a PUT of another type; the staged bytes replaced; 13a: a .tmp- folder.
        status, _, body = request(port, "PUT", t["upload_url"], {"Content-Type": "image/png"}, PHOTO)
        report(11, "PUT with another Content-Type", status == 400, f"{status} {detail(body)}")
        status, _, _ = request(port, "PUT", t["upload_url"], {"Content-Type": "image/jpeg"}, PHOTO)
        assert status == 200
        status, _, body = request(port, "PUT", t["upload_url"], {"Content-Type": "image/jpeg"},
                                  PHOTO[::-1])
        report(11, "replace the staged bytes", status == 409, f"{status} {detail(body)}")
        # 3: the staged, never-validated upload, and record files, as originals.
        status, _, body = request(port, "GET", f"/t/thumb/_variants/_staging/{t['id']}.bytes")
        report(3, "/t/ of a staged upload", status == 404, f"{status} {detail(body)}")
        (srv.root / "docs").mkdir()
        (srv.root / "docs" / "x.jpg").write_bytes(b"not an image")
        request(port, "GET", "/t/thumb/docs/x.jpg")
        time.sleep(0.5)
        records = [p.relative_to(srv.root) for p in (srv.root / "_variants").rglob("*")
                   if p.is_file() and ("_records" in str(p) or "_keys" in str(p))]
        assert records, "the failure was recorded"
        count = sum(1 for _ in srv.root.rglob("*"))
        for i in range(300):
            request(port, "GET", f"/t/thumb/{records[i % len(records)]}")
        grown = sum(1 for _ in srv.root.rglob("*")) - count
        report(3, "300 anonymous requests for record files", grown == 0, f"{grown} files added")
        status, _, body = request(port, "PUT", "/v1/originals/photos/.tmp-hidden/x.jpg",
                                  {"Authorization": f"Bearer {TOKEN}"}, PHOTO)
        report(13, "PUT under a .tmp- folder", status == 400, f"{status} {detail(body)}")
    finally:
        srv.stop()
    # 11: complete after the ticket expired.
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN, "THUMBKIT_UPLOAD_TTL": "1s"})
    try:
        t = ticket(srv.port, "late/p.jpg", len(PHOTO))
        request(srv.port, "PUT", t["upload_url"], {"Content-Type": "image/jpeg"}, PHOTO)
        time.sleep(2.2)
        status, _, body = request(srv.port, "POST", t["complete_url"], {"Authorization": f"Bearer {TOKEN}"})
        report(11, "complete after expiry", status == 410 and not (srv.root / "late").exists(),
               f"{status} {detail(body)}")
    finally:
        srv.stop()


def symlinks():
    """Item 4: deletes and writes through a link out of the root."""
    outside = Path(tempfile.mkdtemp(prefix="tk-elsewhere-"))
    (outside / "victim.txt").write_text("keep")
    (outside / "victim2.txt").write_text("keep")
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN})
    try:
        (srv.root / "linkdir").symlink_to(outside)
        status, _, body = request(srv.port, "DELETE", "/v1/originals/linkdir/victim.txt",
                                  {"Authorization": f"Bearer {TOKEN}"})
        kept = (outside / "victim.txt").exists()
        report(4, "DELETE through linkdir", kept, f"{status}, victim.txt {'kept' if kept else 'deleted'}")
        subprocess.run([str(TK), "purge", "--storage", f"fs:{srv.root}", "linkdir/victim2.txt"],
                       capture_output=True, cwd=ROOT)
        kept = (outside / "victim2.txt").exists()
        report(4, "thumbkit purge through linkdir", kept, f"victim2.txt {'kept' if kept else 'deleted'}")
        status, _, _ = request(srv.port, "PUT", "/v1/originals/linkdir/new/x.jpg",
                               {"Authorization": f"Bearer {TOKEN}"}, PHOTO)
        made = (outside / "new").exists()
        report(4, "PUT through linkdir", not made, f"{status}, {'a folder made' if made else 'no folder'} outside")
    finally:
        srv.stop()
        shutil.rmtree(outside, ignore_errors=True)


def fake_peer_and_connections():
    """Items 5, 7, 12, 13b: a fake peer, one hog address, DNS rebinding."""
    fake_port = free_port()
    png = subprocess.run(["python3", "-c", "import zlib,struct,sys\n"
                          "def c(t,d): return struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d))\n"
                          "raw=b''.join(b'\\0'+b'\\xc8\\x0a\\x0a'*900 for _ in range(600))\n"
                          "sys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n'+c(b'IHDR',struct.pack('>IIBBBBB',900,600,8,2,0,0,0))+c(b'IDAT',zlib.compress(raw))+c(b'IEND',b''))"],
                         capture_output=True).stdout
    listener = socket.socket()
    listener.bind(("127.0.0.1", fake_port))
    listener.listen(16)

    def serve_fake():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\n"
                         + f"content-length: {len(png)}\r\n\r\n".encode() + png)
            conn.close()
    threading.Thread(target=serve_fake, daemon=True).start()
    port = free_port()
    srv_env = {"THUMBKIT_PEERS": f"http://127.0.0.1:{port},http://127.0.0.1:{fake_port}",
               "THUMBKIT_PEER_SECRET": "a-peer-secret-0123456789", "THUMBKIT_MAX_CONNECTIONS": "32"}
    srv = Server(srv_env, port)
    try:
        (srv.root / "p").mkdir()
        served = []
        for i in range(1, 10):
            shutil.copy(ROOT / "fixtures" / f"Landscape_{i}.jpg", srv.root / "p" / f"{i}.jpg")
            for preset in ("thumb", "medium", "large", "avatar@2x"):
                status, h, body = request(port, "GET", f"/t/{preset}/p/{i}.jpg")
                served.append((h.get("x-cache"), body[:8] == b"\x89PNG\r\n\x1a\n"))
        bad = [s for s in served if s[0] == "hit-peer" or s[1]]
        _, _, metrics = request(port, "GET", "/metrics")
        rejected = [l for l in metrics.decode().splitlines() if 'outcome="rejected"' in l]
        report(5, "a fake peer's PNG labelled image/jpeg", not bad,
               f"{len(served)} variants, {len(bad)} from the fake; {rejected[0] if rejected else 'none counted'}")
        # 7: one address holds its share; another is served.
        hog = []
        refused = 0
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            answer = s.recv(4096)
            if b" 429 " in answer.split(b"\r\n")[0]:
                refused += 1
            hog.append(s)
        started = time.time()
        status = request(port, "GET", "/healthz", source="127.0.0.3", timeout=5)[0]
        report(7, "127.0.0.2 opens 40 connections, 127.0.0.3 asks", status == 200 and refused == 32,
               f"{40 - refused} held, {refused} got 429; 127.0.0.3 got {status} in {time.time() - started:.2f} s")
        for s in hog:
            s.close()
        # 12: DNS rebinding and a cross-site text/plain POST on a no-token instance.
        event = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
                                         "s3": {"bucket": {"name": "x"}, "object": {"key": "p/1.jpg"}}}]}).encode()
        status, _, body = request(port, "POST", "/v1/hooks/s3",
                                  {"Host": "evil.rebind.example", "Content-Type": "text/plain"}, event)
        report(12, "rebound Host, text/plain S3 event", status == 403, f"{status} {detail(body)}")
    finally:
        listener.close()
        srv.stop()


def secrets_and_sns():
    """Items 9 and 10."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, ".env").write_text("GOOD=1\nTHUMBKIT_API_TOKEN=hunter2 with spaces\n")
        out = subprocess.run([str(TK), "serve", "--print-config"], cwd=d, capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"]})
        report(10, "malformed .env line", "hunter2" not in out.stderr, out.stderr.strip())
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([str(TK), "serve", "--print-config", "--storage", "s3://media"], cwd=d,
                             capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], "THUMBKIT_S3_ENDPOINT": "http://u:pa55@127.0.0.1:9",
                                  "OTEL_EXPORTER_OTLP_ENDPOINT": "http://o:pa55@127.0.0.1:4318"})
        shown = [l for l in out.stdout.splitlines() if "ENDPOINT" in l]
        report(10, "passwords in endpoint URLs", shown and "pa55" not in out.stdout + out.stderr,
               "; ".join(" ".join(l.split()[:2]) for l in shown))
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN})
    try:
        msg = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:s3:123456789012:T",
               "Message": "{}", "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
               "SignatureVersion": "1", "Signature": "AA==",
               "SigningCertURL": "https://sns.s3.amazonaws.com/x.pem"}
        status, _, body = request(srv.port, "POST", "/v1/hooks/s3", auth(), json.dumps(msg).encode())
        report(9, "TopicArn region `s3`", status == 403, f"{status} {detail(body)}")
        msg["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:T"
        msg["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/x.pem"
        msg["Timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7200))
        status, _, body = request(srv.port, "POST", "/v1/hooks/s3", auth(), json.dumps(msg).encode())
        report(9, "a message sent two hours ago", status == 403, f"{status} {detail(body)}")
    finally:
        srv.stop()
    srv = Server({"THUMBKIT_API_TOKEN": TOKEN, "THUMBKIT_SNS_TOPICS": "arn:aws:sns:us-east-1:1:T"})
    try:
        event = json.dumps({"Records": []}).encode()
        status, _, body = request(srv.port, "POST", "/v1/hooks/s3", auth(), event)
        report(9, "bare S3 event with THUMBKIT_SNS_TOPICS", status == 403, f"{status} {detail(body)}")
    finally:
        srv.stop()


if __name__ == "__main__":
    tickets_and_area()
    symlinks()
    fake_peer_and_connections()
    secrets_and_sns()
    print(f"\n{len(failures)} attacks worked" + (f": {failures}" if failures else ""))
    sys.exit(1 if failures else 0)
