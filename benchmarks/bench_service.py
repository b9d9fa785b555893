"""Throughput and latency of ``POST /v1/articles`` (5 KB text articles) under gunicorn, next to
the plain library call (``clean`` + ``StoryIndex.add``) in the same run.

The service runs as in production: ``cleaner serve`` (gunicorn, 2 sync workers, SQLite store,
SQLite rate-limit counters, audit lines to a file, Prometheus multi-process metrics). Load
comes from a separate process: ``wrk`` (``apt-get install wrk``) with a Lua script that posts
a different article with a fresh id on every request.

    python benchmarks/bench_service.py                      # 20 s of load, 4 connections
    python benchmarks/bench_service.py --duration 10 --connections 8

Targets (issue 4): >= 100 requests/s and p99 <= 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Size of each posted article: the issue's target is stated for 5 KB text articles.
ARTICLE_BYTES = 5 * 1024
#: Dev news texts (read here, never copied): every article of 5 KB or more in these files.
DEFAULT_DATA = [Path("/work/shared/data/stories-dev") / name
                for name in ("basil_stories.jsonl", "ecbplus_stories.jsonl", "gva_dev.jsonl")]
TARGET_RPS = 100
TARGET_P99_MS = 150

LUA = r"""
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local counter = 0
local tag = os.getenv("BENCH_TAG")
request = function()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]:gsub("__ID__", tag .. "-" .. counter, 1)
  return wrk.format("POST", "/v1/articles", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def five_kb_articles(paths: list[Path], n: int) -> list[str]:
    """Up to ``n`` distinct article texts cut to ~5 KB at a paragraph boundary (longer ones only)."""
    out: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line).get("text") or ""
                if len(text.encode("utf-8")) < ARTICLE_BYTES:
                    continue
                cut = text.encode("utf-8")[:ARTICLE_BYTES].decode("utf-8", "ignore")
                cut = cut[: cut.rfind("\n\n")] if "\n\n" in cut[ARTICLE_BYTES // 2:] else cut
                out.append(cut)
                if len(out) == n:
                    return out
    if not out:
        raise SystemExit(f"no article of {ARTICLE_BYTES} bytes or more in {paths}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def direct_cost(texts: list[str], db: Path, namespace: str) -> tuple[float, float, float]:
    """Median ms of clean() and of StoryIndex.add() per article, in this process, on the index
    the service just filled (same store, same namespace): the same state the last requests saw."""
    from cleaner import clean
    from cleaner.stories import StoryIndex, open_storage

    storage = open_storage(str(db))
    idx = StoryIndex(storage=storage, namespace=namespace)
    t_clean, t_add = [], []
    try:
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            cleaned = clean(text, content_type="text")
            t1 = time.perf_counter()
            idx.add(f"direct-{i}", cleaned.text, meta={"cleaned": cleaned.to_dict()})
            t2 = time.perf_counter()
            t_clean.append(t1 - t0)
            t_add.append(t2 - t1)
    finally:
        storage.close()
    both = [a + b for a, b in zip(t_clean, t_add)]
    return (statistics.median(t_clean) * 1e3, statistics.median(t_add) * 1e3, statistics.median(both) * 1e3)


def _library_worker(args: tuple[str, str, list[str]]) -> tuple[int, float]:
    from cleaner import clean
    from cleaner.stories import StoryIndex, open_storage

    db, namespace, texts = args
    storage = open_storage(db)
    idx = StoryIndex(storage=storage, namespace=namespace)
    t0 = time.perf_counter()
    try:
        for i, text in enumerate(texts):
            cleaned = clean(text, content_type="text")
            idx.add(f"{namespace}-{i}", cleaned.text, meta={"cleaned": cleaned.to_dict()})
    finally:
        storage.close()
    return len(texts), time.perf_counter() - t0


def library_parallel(texts: list[str], db: Path, processes: int) -> float:
    """Articles/s of the bare library (clean + add) in ``processes`` processes writing one
    SQLite store at once: what the machine gives without HTTP, at this moment's load."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(processes) as pool:
        results = list(pool.map(_library_worker, [(str(db), f"lib{k}", texts) for k in range(processes)]))
    return sum(n for n, _ in results) / max(t for _, t in results)


def in_process_overhead(texts: list[str], tmp: Path) -> tuple[float, float, float]:
    """Paired medians (ms) of the app's POST /v1/articles (Flask test client: auth, rate limit,
    JSON, audit, metrics, clean, add) and of the bare library call, article by article on two
    indexes that grow alike: the service's own cost without HTTP sockets or machine load swings."""
    from cleaner import clean
    from cleaner.stories import StoryIndex, open_storage
    from service import close_app, create_app

    app = create_app({"CLEANER_DB": str(tmp / "inproc.db"), "AUDIT_LOG": str(tmp / "inproc-audit.log"),
                      "RATE_LIMIT": "1000000 per minute"})
    key = app.extensions["cleaner.keys"].create_key("inproc")[0]
    client, headers = app.test_client(), {"Authorization": f"Bearer {key}"}
    storage = open_storage(str(tmp / "inproc-direct.db"))
    idx = StoryIndex(storage=storage, namespace="direct")
    service_s, direct_s = [], []
    try:
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            resp = client.post("/v1/articles", json={"id": f"p{i}", "text": text}, headers=headers)
            t1 = time.perf_counter()
            cleaned = clean(text, content_type="text")
            idx.add(f"p{i}", cleaned.text, meta={"cleaned": cleaned.to_dict()})
            t2 = time.perf_counter()
            assert resp.status_code == 201, resp.get_json()
            service_s.append(t1 - t0)
            direct_s.append(t2 - t1)
    finally:
        storage.close()
        close_app(app)
    return (statistics.median(service_s) * 1e3, statistics.median(direct_s) * 1e3,
            statistics.median(a - b for a, b in zip(service_s, direct_s)) * 1e3)


def run_wrk(wrk: list[str], connections: int, seconds: int, url: str, env: dict[str, str]) -> tuple[int, ...]:
    """(requests, duration us, non-2xx, socket errors, p50 us, p99 us, max us) of one wrk run."""
    # Each run tags its ids, so no run repeats another's ids (a repeat is a cheap idempotent 200).
    res = subprocess.run([*wrk, f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         env={**env, "BENCH_TAG": f"c{connections}-{time.time_ns()}"},
                         capture_output=True, text=True, check=True)
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", res.stdout)
    if not m:
        raise SystemExit(f"could not parse wrk output:\n{res.stdout}\n{res.stderr}")
    return tuple(map(int, m.groups()))


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=20, help="seconds of load")
    ap.add_argument("--connections", type=int, default=4, help="concurrent connections")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--articles", type=int, default=300, help="most distinct 5 KB articles to cycle through")
    ap.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA, help="JSONL files with a 'text' field")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    load_at_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    texts = five_kb_articles(args.data, args.articles)
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    try:
        from service.auth import KeyStore

        db = tmp / "served.db"
        key = KeyStore(str(db)).create_key("bench")[0]
        bodies = tmp / "bodies.jsonl"
        bodies.write_text("".join(json.dumps({"id": "__ID__", "text": t, "source": "bench"}) + "\n" for t in texts),
                          encoding="utf-8")
        lua = tmp / "post.lua"
        lua.write_text(LUA, encoding="utf-8")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "CLEANER_RATE_LIMIT": "1000000 per minute", "CLEANER_AUDIT_LOG": str(tmp / "audit.log"),
               "BENCH_BODIES": str(bodies)}
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "prom")  # fresh, removed with tmp
        log = tmp / "server.log"
        cli = str(Path(sys.executable).with_name("cleaner"))
        with log.open("wb") as out:
            server = subprocess.Popen([cli, "serve", "--port", str(port), "--workers", str(args.workers),
                                       "--db", str(db)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        try:
            wait_ready(port, server, log)
            wrk = ["wrk", "-t1", "-s", str(lua), "-H", f"Authorization: Bearer {key}",
                   "-H", "Content-Type: application/json", "--timeout", "10s"]
            run_wrk(wrk, args.connections, 3, url, env)  # warm-up: imports, first pages, caches
            load = run_wrk(wrk, args.connections, args.duration, url, env)
            # One connection, no queueing: the latency of a single request, for the overhead figure.
            single = run_wrk(wrk, 1, max(5, args.duration // 4), url, env)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        stored = sum('"status": 201' in ln for ln in (tmp / "audit.log").read_text().splitlines())
        conn = sqlite3.connect(db)
        try:
            namespace = conn.execute("SELECT id FROM service_tenants").fetchone()[0]
        finally:
            conn.close()
        c_ms, a_ms, both_ms = direct_cost(texts, db, namespace)
        ip_service, ip_direct, ip_diff = in_process_overhead(texts, tmp)
        lib_rps = library_parallel(texts, tmp / "parallel.db", args.workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    reqs, dur_us, bad_status, sock_err, p50_us, p99_us, max_us = load
    rps = reqs / (dur_us / 1e6)
    s_reqs, s_dur, s_bad, _, s_p50, s_p99, _ = single
    bad_status += s_bad
    direct_rps = args.workers * 1000 / both_ms
    print(f"POST /v1/articles, 5 KB text articles ({len(texts)} distinct texts cycled, fresh id each), "
          f"gunicorn {args.workers} sync workers, SQLite store; load from wrk (1 thread) in a separate process; "
          f"{os.cpu_count()} cores shared with the load generator; load average (1/5/15 min) at start {load_at_start}\n")
    print(f"| run | requests | req/s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| service, {args.connections} connections, {args.duration} s | {reqs} | {rps:.0f} | {p50_us / 1e3:.1f} "
          f"| {p99_us / 1e3:.1f} | {max_us / 1e3:.1f} |")
    print(f"| service, 1 connection, {s_dur / 1e6:.0f} s | {s_reqs} | {s_reqs / (s_dur / 1e6):.0f} | {s_p50 / 1e3:.1f} "
          f"| {s_p99 / 1e3:.1f} | - |")
    print(f"| library direct: clean {c_ms:.1f} + add {a_ms:.1f} ms (median, same index) | {len(texts)} "
          f"| {direct_rps:.0f} (x{args.workers} cores) | {both_ms:.1f} | - | - |")
    print(f"| library direct, {args.workers} processes at once on one SQLite store (no HTTP) | "
          f"{args.workers * len(texts)} | {lib_rps:.0f} | - | - | - |")
    print(f"| in process, paired: app via test client {ip_service:.1f} ms vs library {ip_direct:.1f} ms "
          f"| {len(texts)} | - | overhead {ip_diff:.1f} | - | - |")
    print(f"\nnon-2xx (both runs): {bad_status}, socket errors: {sock_err}, articles stored (audit 201 lines): {stored}")
    print(f"service overhead per request (1 connection p50 - library median): {s_p50 / 1e3 - both_ms:.1f} ms; "
          f"throughput ratio service / library in {args.workers} processes (measured): {rps / lib_rps:.2f}")
    ok_rps, ok_p99 = rps >= TARGET_RPS, p99_us / 1e3 <= TARGET_P99_MS
    print(f"targets: >= {TARGET_RPS} req/s: {'met' if ok_rps else 'MISSED'} ({rps:.0f}); "
          f"p99 <= {TARGET_P99_MS} ms: {'met' if ok_p99 else 'MISSED'} ({p99_us / 1e3:.0f})")


if __name__ == "__main__":
    main()
