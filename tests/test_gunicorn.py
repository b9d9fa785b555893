"""The service under real gunicorn (2 workers) on a loopback port, started by ``cleaner serve``:
it answers, /metrics sums the workers, the rate limit holds across workers (SQLite and
Redis stores), and a kill -9 during writes loses no acknowledged article."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from service.auth import KeyStore

pytestmark = pytest.mark.slow

#: Seconds to wait for gunicorn to answer /healthz (two workers import trafilatura).
STARTUP_SECONDS = 30
TEXT = ("The regional railway will add night trains between the two largest cities from next spring.\n\n"
        "Officials said the service would run five nights a week and use refurbished sleeper carriages.\n\n"
        "Tickets go on sale in January, with discounts for students and passengers over sixty.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, key: str | None = None, body: Any = None,
         timeout: float = 10) -> tuple[int, Any]:
    """One HTTP request on a fresh connection; (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        exc.close()
    return status, (json.loads(raw) if "json" in ctype and raw else raw.decode())


@contextmanager
def running(argv: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` (a gunicorn in its own process group), wait for /healthz, stop it after."""
    # Metric files in the test's own directory: a SIGKILLed server cannot clean up a temp dir.
    env = {"PROMETHEUS_MULTIPROC_DIR": str(log.parent / f"prom-{log.stem}"), **env}
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if call(f"http://127.0.0.1:{port}", "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def serve_argv(db: Path, port: int, workers: int = 2) -> list[str]:
    cli = str(Path(sys.executable).with_name("cleaner"))
    return [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--db", str(db)]


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "served.db"


def make_key(db: Path, tenant: str = "gunicorn-test") -> str:
    return KeyStore(str(db)).create_key(tenant)[0]


def test_cleaner_serve_runs_gunicorn_and_metrics_sum_both_workers(db: Path, tmp_path: Path) -> None:
    key = make_key(db)
    port = free_port()
    env = {"CLEANER_AUDIT_LOG": str(tmp_path / "audit.log"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    with running(serve_argv(db, port), port, env, tmp_path / "server.log") as proc:
        base = f"http://127.0.0.1:{port}"
        status, body = call(base, "POST", "/v1/articles", key, {"id": "night-trains", "text": TEXT})
        assert status == 201 and body["id"] == "night-trains"
        assert call(base, "GET", "/v1/articles/night-trains", key)[1]["story_id"] == body["story_id"]
        # Concurrent bursts: a sync worker busy cleaning leaves the next connection to the other
        # worker. Repeat (bounded) until both have served, then check /metrics summed them all.
        long_text = "\n\n".join([TEXT] * 20)
        total = 0
        with ThreadPoolExecutor(max_workers=6) as pool:
            for _ in range(10):
                codes = list(pool.map(lambda _: call(base, "POST", "/v1/clean", key, {"text": long_text})[0],
                                      range(24)))
                assert codes == [200] * 24
                total += 24
                if len({p.name.split("_")[-1] for p in (tmp_path / "prom").glob("*.db")}) >= 2:
                    break
        pids = {p.name.split("_")[-1] for p in (tmp_path / "prom").glob("*.db")}
        assert len(pids) >= 2, "both workers should have served requests"
        metrics = call(base, "GET", "/metrics")[1]
        line = next(x for x in metrics.splitlines()
                    if x.startswith('cleaner_http_requests_total{method="POST",route="/v1/clean",status="200"}'))
        assert float(line.rsplit(" ", 1)[1]) == total  # every worker's count, summed
        assert call(base, "GET", "/readyz")[0] == 200
        assert call(base, "GET", "/nope")[1] == {"error": {"code": "not_found", "message": "no such route"}}
        assert proc.poll() is None
    audit = [json.loads(x) for x in (tmp_path / "audit.log").read_text().splitlines()]
    assert audit and audit[0]["article_ids"] == ["night-trains"] and audit[0]["status"] == 201


#: Routes a burst cycles through: the budget is one per key, shared by every /v1 route.
BURST_ROUTES = [("GET", "/v1/stories"), ("GET", "/v1/articles/none-such"), ("DELETE", "/v1/articles/none-such"),
                ("GET", "/v1/stories/s_0123")]


def _burst(base: str, key: str, n: int) -> list[int]:
    codes = [call(base, *BURST_ROUTES[i % len(BURST_ROUTES)], key)[0] for i in range(n)]
    assert set(codes) <= {200, 404, 429}
    return codes


def test_rate_limit_holds_across_two_workers_on_the_default_sqlite_store(db: Path, tmp_path: Path) -> None:
    key = make_key(db)
    port = free_port()
    env = {"CLEANER_RATE_LIMIT": "10 per minute", "CLEANER_AUDIT_LOG": ""}
    with running(serve_argv(db, port), port, env, tmp_path / "server.log"):
        codes = _burst(f"http://127.0.0.1:{port}", key, 16)
    # per-worker counters would allow up to 20, per-route ones all 16
    assert codes.count(429) == 6 and 429 not in codes[:10]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="no Redis server on 127.0.0.1:6379")
def test_rate_limit_holds_across_two_workers_on_redis(db: Path, tmp_path: Path) -> None:
    key = make_key(db)  # a fresh random key id: its counters cannot collide with earlier runs
    port = free_port()
    env = {"CLEANER_RATE_LIMIT": "7 per minute", "CLEANER_AUDIT_LOG": "",
           "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}
    with running(serve_argv(db, port), port, env, tmp_path / "server.log"):
        codes = _burst(f"http://127.0.0.1:{port}", key, 12)
    assert codes.count(429) == 5 and 429 not in codes[:7]
    assert not list(tmp_path.glob("*.ratelimit.db")), "the SQLite store must not be used when Redis is set"
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        assert any(key.split("_")[1] in k.decode() for k in client.scan_iter(match="LIMITS:*"))
    finally:
        client.close()


def _post_chunked(base: str, key: str, chunks: Iterator[bytes]) -> tuple[int, str, Any]:
    """POST /v1/clean with ``Transfer-Encoding: chunked`` (no Content-Length): status, type, body."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    try:
        conn.request("POST", "/v1/clean", body=chunks, encode_chunked=True,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.headers.get("Content-Type", "")
        return resp.status, ctype, json.loads(raw) if "json" in ctype else raw
    finally:
        conn.close()


def test_a_chunked_body_over_the_cap_is_413_json_under_gunicorn(db: Path, tmp_path: Path) -> None:
    key = make_key(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    prefix = b'{"text": "' + TEXT.replace("\n\n", " ").encode() + b" "
    with running(serve_argv(db, port), port, {"CLEANER_AUDIT_LOG": ""}, tmp_path / "server.log"):
        status, _, body = _post_chunked(base, key, iter([prefix, b'"}']))
        assert status == 200 and "night trains" in body["text"]
        # 5 MB and a little more, in 64 KB chunks: was cut off at 5 MB and read as JSON
        pad = b"word " * 13_108
        chunks = iter([prefix, *[pad] * 81, b'"}'])
        status, ctype, body = _post_chunked(base, key, chunks)
        assert status == 413 and ctype == "application/json", (status, body)
        assert body["error"]["code"] == "payload_too_large"


def test_kill_9_during_writes_loses_no_acknowledged_article(db: Path, tmp_path: Path) -> None:
    key = make_key(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    acked: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        i = 0
        while not stop.is_set():
            art_id = f"w{worker}-{i}"
            try:
                status, _ = call(base, "POST", "/v1/articles", key,
                                 {"id": art_id, "text": f"{TEXT}\n\nUpdate number {i} from desk {worker}."}, timeout=5)
            except (OSError, http.client.HTTPException):
                return  # the server is gone; a cut-off answer is no acknowledgement
            if status == 201:
                acked.append(art_id)
            i += 1

    env = {"CLEANER_AUDIT_LOG": ""}
    with running(serve_argv(db, port), port, env, tmp_path / "server.log") as proc:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # master and workers, mid-stream
        proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert len(acked) >= 20
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    port2 = free_port()
    with running(serve_argv(db, port2, workers=1), port2, env, tmp_path / "server2.log"):
        missing = [a for a in acked if call(f"http://127.0.0.1:{port2}", "GET", f"/v1/articles/{a}", key)[0] != 200]
    assert missing == []


def _raw(port: int, request: bytes) -> tuple[int, str, Any]:
    """Send bytes as they are; (status, content type, parsed JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), headers["Content-Type"], json.loads(body)


def test_requests_gunicorn_cannot_parse_get_json_errors(db: Path, tmp_path: Path) -> None:
    # gunicorn answers these itself, before the app: still the service's JSON error shape.
    key = make_key(db).encode()
    port = free_port()
    with running(serve_argv(db, port, workers=1), port, {"CLEANER_AUDIT_LOG": ""}, tmp_path / "server.log"):
        cases = [
            (b"G<T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
            (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
            (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 200 + b"\r\n", 431, "headers_too_large"),
            (b"POST /v1/clean HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\n"
             b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
        ]
        for request, status, code in cases:
            got_status, ctype, body = _raw(port, request)
            assert (got_status, ctype) == (status, "application/json"), request[:40]
            assert body["error"]["code"] == code and body["error"]["message"], body
        # The app's own answers are unchanged.
        assert call(f"http://127.0.0.1:{port}", "GET", "/healthz")[0] == 200
