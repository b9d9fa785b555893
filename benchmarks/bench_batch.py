"""Batch cleaning speed and memory, printed as tables.

1. ``--jobs 1`` vs ``--jobs 2`` rate of ``cleaner clean`` on the same pages (target >= 1.8x).
2. N HTML pages end to end (default 10,000) with all cores, next to a plain loop of
   ``trafilatura.extract`` over the same files in this process.
3. Peak RSS of the batch (parent and each worker) at 1,000 and N pages: flat as input grows.
4. WARC read rate with cleaning off (``cleaner clean --no-clean``) next to warcio's own
   ``ArchiveIterator`` loop over the same archive (target >= 80%).

Pages: sampled (with repeats) from the wcxb-dev HTML when ``--data-dir``/``DATA_DIR`` points
at the dev data, else synthetic article pages. Repeated pages are hard links, so 10,000
pages cost the disk only the distinct ones. Every CLI run is a subprocess, as a user runs it.

    python benchmarks/bench_batch.py                      # 10,000 pages
    DATA_DIR=/work/shared/data python benchmarks/bench_batch.py --n 2000
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleaner.eval import positive  # noqa: E402

#: Pages in the --jobs 1 vs --jobs 2 comparison: enough for a steady rate (a page takes
#: ~50-100 ms), few enough to repeat the pair.
JOBS_PAGES = 300
#: The smaller input of the memory comparison.
RSS_SMALL = 1000
#: How often the memory sampler reads /proc while a batch runs.
RSS_POLL_SECONDS = 0.1
#: Pages in the WARC read-rate comparison (records, before repeats of the whole archive).
WARC_PAGES = 1500
#: Passes of each WARC reader; the median is reported.
WARC_REPEATS = 3


def _synthetic_page(i: int, rng: random.Random) -> bytes:
    words = ("council harbour budget minister river bridge school hospital election court "
             "weather festival museum railway contract report survey police market energy").split()
    paras = []
    for k in range(rng.randint(4, 12)):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(25, 60)))
        paras.append(f"<p>{sentence.capitalize()} ({i}.{k}).</p>")
    nav = "".join(f"<li><a href='/s/{w}'>{w}</a></li>" for w in words[:12])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Story {i}</title></head><body>"
            f"<header><ul>{nav}</ul></header><main><article><h1>Story {i}</h1>{''.join(paras)}</article>"
            f"<aside><h3>Most read</h3><ul>{nav}</ul></aside></main><footer>(c) Example</footer>"
            "</body></html>").encode()


def distinct_pages(data_dir: Path | None, limit: int, seed: int = 7) -> list[bytes]:
    """The distinct pages to sample from: wcxb-dev HTML if available, else synthetic."""
    rng = random.Random(seed)
    if data_dir is not None:
        files = sorted((data_dir / "wcxb-dev" / "html").glob("*.html.gz"))
        if not files:
            sys.exit(f"no wcxb-dev/html/*.html.gz under {data_dir}")
        return [gzip.decompress(f.read_bytes()) for f in files[:limit]]
    return [_synthetic_page(i, rng) for i in range(min(limit, 1500))]


def make_tree(folder: Path, pages: list[bytes], n: int, seed: int = 11) -> list[Path]:
    """``n`` page files in sub-folders of 500, sampled from ``pages``; repeats are hard links."""
    rng = random.Random(seed)
    store = folder / ".distinct"
    store.mkdir(parents=True, exist_ok=True)
    originals = []
    for i, page in enumerate(pages):
        p = store / f"{i:05d}.html"
        if not p.exists():
            p.write_bytes(page)
        originals.append(p)
    order = list(range(len(pages)))
    rng.shuffle(order)
    paths = []
    for i in range(n):
        src = originals[order[i % len(order)]]
        dst = folder / f"part{i // 500:03d}" / f"page{i:06d}.html"
        dst.parent.mkdir(exist_ok=True)
        if not dst.exists():
            os.link(src, dst)
        paths.append(dst)
    return paths


def _proc_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_cli(args: list[str], expect: int | None = None) -> dict[str, float]:
    """Run ``cleaner clean ARGS`` and return wall time and peak RSS (MB): the parent's, the
    largest worker's, and the largest sampled sum of all of them."""
    cmd = [sys.executable, "-m", "cleaner", "clean", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
    parent = worker = total = 0
    while proc.poll() is None:
        kids = _children(proc.pid)
        parent = max(parent, _proc_kb(proc.pid, "VmHWM:"))
        for k in kids:
            worker = max(worker, _proc_kb(k, "VmHWM:"))
        total = max(total, _proc_kb(proc.pid, "VmRSS:") + sum(_proc_kb(k, "VmRSS:") for k in kids))
        time.sleep(RSS_POLL_SECONDS)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    err_file.seek(0)
    err = err_file.read().decode(errors="replace")[-2000:]
    err_file.close()
    # Exit 1 only means some pages had no article; anything else, or a traceback, is a failure.
    if proc.returncode not in (0, 1) or "Traceback" in err:
        sys.exit(f"cleaner clean failed ({proc.returncode}): {err}")
    # The closing summary ("N articles: ...") proves the batch ran to its end.
    done = re.search(r"^([\d,]+) articles:", err, re.M)
    articles = int(done.group(1).replace(",", "")) if done else -1
    if expect is not None and articles != expect:
        sys.exit(f"cleaner clean {' '.join(args)} cleaned {articles} articles, expected {expect}: {err}")
    return {"wall": wall, "cpu": cpu, "parent_mb": parent / 1024, "worker_mb": worker / 1024,
            "total_mb": total / 1024}


def trafilatura_loop(paths: list[Path]) -> float:
    """Seconds for a plain single-process loop of trafilatura.extract over the files."""
    import trafilatura

    start = time.perf_counter()
    for p in paths:
        trafilatura.extract(p.read_bytes())
    return time.perf_counter() - start


def write_warc(path: Path, pages: list[bytes]) -> int:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        for i, page in enumerate(pages):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://example.org/{i}", "response",
                                                          payload=io.BytesIO(page), http_headers=headers))
    return len(pages)


def warcio_loop(path: Path) -> tuple[int, float]:
    """warcio's own record loop: every HTML response record's decoded payload, read."""
    from warcio.archiveiterator import ArchiveIterator

    start = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response" and rec.http_headers is not None:
                ctype = rec.http_headers.get_header("Content-Type") or ""
                if ctype.startswith("text/html"):
                    rec.content_stream().read()
                    n += 1
    return n, time.perf_counter() - start


def our_reader(path: Path) -> tuple[int, float]:
    """cleaner.batch's WARC reader alone (no decoding, no output)."""
    from cleaner.batch import discover, iter_records

    start = time.perf_counter()
    n = sum(1 for _ in iter_records(discover([path])))
    return n, time.perf_counter() - start


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    sys.stdout.flush()


#: Sections of the run that --skip can leave out.
SECTIONS = frozenset({"jobs", "e2e", "rss", "warc"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=positive, default=10_000, help="pages in the end-to-end run (default 10,000)")
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("DATA_DIR") or None,
                    help="folder holding wcxb-dev/ (default: $DATA_DIR, else synthetic pages)")
    ap.add_argument("--jobs-pages", type=positive, default=JOBS_PAGES, help="pages in the jobs 1 vs 2 comparison")
    ap.add_argument("--repeats", type=positive, default=1, help="runs of each jobs setting (median reported)")
    ap.add_argument("--warc-pages", type=positive, default=WARC_PAGES, help="records in the WARC read test")
    ap.add_argument("--skip", default="", help=f"comma list of sections to skip: {','.join(sorted(SECTIONS))}")
    ap.add_argument("--rss-sizes", type=lambda v: [int(x) for x in v.split(",")], default=[RSS_SMALL],
                    help="page counts measured for peak RSS besides the end-to-end run (default 1000)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to build inputs (default: a temp dir)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if skip - SECTIONS:
        ap.error(f"--skip: unknown section(s) {', '.join(sorted(skip - SECTIONS))}; "
                 f"choose from {', '.join(sorted(SECTIONS))}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_batch_"))
    cores = len(os.sched_getaffinity(0))
    source = f"wcxb-dev ({args.data_dir})" if args.data_dir else "synthetic"
    print(f"# bench_batch: {args.n:,} pages from {source}, {cores} cores, work dir {work}")
    pages = distinct_pages(args.data_dir, max(args.warc_pages, 1500))
    try:
        if "jobs" not in skip:
            sub = work / "jobs"
            make_tree(sub, pages, args.jobs_pages)
            rates: dict[int, list[float]] = {1: [], 2: []}
            busy: dict[int, list[float]] = {1: [], 2: []}
            cpu_ms: dict[int, list[float]] = {1: [], 2: []}
            load = os.getloadavg()[0]
            for _ in range(args.repeats):
                for jobs in (1, 2):
                    r = run_cli([str(sub), "-o", os.devnull, "--jobs", str(jobs)], expect=args.jobs_pages)
                    rates[jobs].append(args.jobs_pages / r["wall"])
                    busy[jobs].append(r["cpu"] / r["wall"])
                    cpu_ms[jobs].append(1000 * r["cpu"] / args.jobs_pages)
            r1, r2 = statistics.median(rates[1]), statistics.median(rates[2])
            b1, b2 = statistics.median(busy[1]), statistics.median(busy[2])
            c1, c2 = statistics.median(cpu_ms[1]), statistics.median(cpu_ms[2])
            table(f"--jobs 1 vs --jobs 2 ({args.jobs_pages} pages, median of {args.repeats}, wall incl. start-up;"
                  f" load average {load:.1f} on {cores} cores at start)",
                  ["jobs", "pages/s", "speed-up", "cores we got (cpu s / wall s)", "cpu ms / page", "target"],
                  [["1", f"{r1:.1f}", "1.00x", f"{b1:.2f}", f"{c1:.0f}", ""],
                   ["2", f"{r2:.1f}", f"{r2 / r1:.2f}x", f"{b2:.2f}", f"{c2:.0f}", ">= 1.80x"]])
        e2e: dict[int, dict[str, float]] = {}
        if "rss" not in skip:
            for size in args.rss_sizes:
                tree = work / f"rss{size}"
                make_tree(tree, pages, size)
                e2e[size] = run_cli([str(tree), "-o", os.devnull], expect=size)
        if "e2e" not in skip:
            big = work / "big"
            paths = make_tree(big, pages, args.n)
            e2e[args.n] = run_cli([str(big), "-o", str(work / "big.jsonl")], expect=args.n)
            traf = trafilatura_loop(paths)
            rows = [[f"cleaner clean (all {cores} cores)", f"{args.n / e2e[args.n]['wall']:.1f}",
                     f"{e2e[args.n]['wall']:.0f}"],
                    ["trafilatura.extract loop (1 process)", f"{args.n / traf:.1f}", f"{traf:.0f}"]]
            table(f"{args.n:,} HTML pages end to end (load average {os.getloadavg()[0]:.1f} at the end)",
                  ["run", "pages/s", "seconds"], rows)
        if "rss" not in skip:
            rows = [[f"{n:,}", f"{r['parent_mb']:.0f}", f"{r['worker_mb']:.0f}", f"{r['total_mb']:.0f}"]
                    for n, r in sorted(e2e.items())]
            table("Peak RSS (MB) of cleaner clean, all cores", ["pages", "parent", "largest worker", "sum (sampled)"],
                  rows)
        if "warc" not in skip:
            warc = work / "pages.warc.gz"
            n = write_warc(warc, pages[: args.warc_pages])
            base = statistics.median(warcio_loop(warc)[1] for _ in range(WARC_REPEATS))
            ours = statistics.median(our_reader(warc)[1] for _ in range(WARC_REPEATS))
            cli = statistics.median(run_cli([str(warc), "-o", os.devnull, "--no-clean"], expect=n)["wall"]
                                    for _ in range(WARC_REPEATS))
            startup = statistics.median(run_cli(["--help"])["wall"] for _ in range(WARC_REPEATS))
            mb = warc.stat().st_size / 2**20
            rows = [["warcio ArchiveIterator loop", f"{n / base:.0f}", f"{mb / base:.1f}", "100%"],
                    ["cleaner.batch reader", f"{n / ours:.0f}", f"{mb / ours:.1f}", f"{base / ours:.0%}"],
                    ["cleaner clean --no-clean (CLI, wall)", f"{n / cli:.0f}", f"{mb / cli:.1f}", f"{base / cli:.0%}"],
                    [f"  same, minus {startup:.2f} s CLI start-up", f"{n / (cli - startup):.0f}",
                     f"{mb / (cli - startup):.1f}", f"{base / (cli - startup):.0%}"]]
            table(f"WARC read rate, cleaning off ({n:,} HTML records, {mb:.0f} MB gzip, median of {WARC_REPEATS};"
                  " target >= 80%)", ["reader", "records/s", "MB/s", "of warcio"], rows)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
