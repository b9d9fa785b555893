"""Speed and size of the story index: ``python benchmarks/bench_stories.py [--n 200000]``.

Prints tables:

1. signatures per second for 600-word synthetic articles on one core: ours (compiled kernels:
   two sketches and the salient terms) side by side with datasketch's own
   ``MinHash.update()`` loop and its ``update_batch()`` over the same word 5-gram shingles;
2. ``StoryIndex.add`` rate into a SQLite file as it grows to ``--n`` articles (per slice
   of the run, so a slowdown shows), query latency percentiles at the final size, bytes on
   disk per article, and peak RSS.

Synthetic text: words drawn by a Zipf law from an English frequency list, plus made-up names,
so the salient-term and shingle counts are those of real news (about 80 terms, 600 shingles).

The add workload is a news feed (:class:`cleaner.stories.synthetic.NewsFeed`): every article
is unique; 73% report a new event, 20% are another outlet's own report of one of the last
2,000 events (same names, place and numbers, other wording: ``same_story``), 7% are
syndicated near-copies of one of the last 2,000 articles (``duplicate``). Each slice is
generated before it is timed. The add rate is given as measured and with the time of
``signature()`` (timed separately on every fifth text of the slice) subtracted, which is the capacity of
the storage and clustering layer alone. Machine load (1-minute load average) is printed per
slice: on a shared machine, compare medians over slices.

Targets (issue 3): >= 5,000 signatures/s; >= 1,000 adds/s sustained to 200,000 articles;
query p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleaner.stories import StoryIndex, synthetic  # noqa: E402
from cleaner.eval import non_negative, positive  # noqa: E402
from cleaner.stories import signatures as sg  # noqa: E402
from cleaner.stories.mirror import NamespaceMirror  # noqa: E402
from cleaner.stories.wordranks import WORDS  # noqa: E402

#: Articles timed for the signature table (each timing is the median of REPEATS runs).
SIG_ARTICLES = 400
REPEATS = 3
#: Queries timed at the final index size.
QUERIES = 500
#: signature() is timed on every this-many-th article of a slice (to subtract it from adds).
SIG_SAMPLE = 5


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocab = WORDS.split()
    return [synthetic.filler_article(rng, 600, vocab) for _ in range(n)]


def _per_second(fn, items) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(REPEATS):
        t0 = time.process_time()
        for x in items:
            fn(x)
        runs.append(time.process_time() - t0)
    return len(items) / statistics.median(runs)


def bench_signatures() -> None:
    from datasketch import MinHash

    texts = _texts(SIG_ARTICLES, 1)
    few = texts[: SIG_ARTICLES // 8]  # the update() loop is slow: time fewer articles

    def shingles(text: str) -> list[bytes]:
        ws = sg.words(text)
        k = sg.SHINGLE_WORDS
        return [" ".join(ws[i:i + k]).encode() for i in range(len(ws) - k + 1)]

    def ds_update(text: str) -> None:
        m = MinHash(num_perm=sg.DUP_NUM_PERM, seed=sg.SEED, scheme=sg.HASH_SCHEME)
        for s in shingles(text):
            m.update(s)

    def ds_batch(text: str) -> None:
        m = MinHash(num_perm=sg.DUP_NUM_PERM, seed=sg.SEED, scheme=sg.HASH_SCHEME)
        m.update_batch(shingles(text))

    rows = [
        ("ours: signature() (dup 128 + salient 32 + terms)", _per_second(sg.signature, texts)),
        ("ours: shingle sketch only (dup, 128 perms)",
         _per_second(lambda t: sg._minhash(sg.shingle_hashes(t), sg._DUP_A, sg._DUP_B), texts)),
        ("datasketch MinHash.update() loop (128 perms)", _per_second(ds_update, few)),
        ("datasketch MinHash.update_batch() (128 perms)", _per_second(ds_batch, few)),
    ]
    base = rows[2][1]
    print(f"\nSignatures, 600-word articles, one core (CPU time, median of {REPEATS})")
    print(f"{'method':<52}{'articles/s':>12}{'vs update()':>13}")
    for name, rate in rows:
        print(f"{name:<52}{rate:>12,.0f}{rate / base:>12.1f}x")


def _anon_rss_mb() -> float:
    # Anonymous memory only: the pages of the store mapped while the mirror is read are the
    # OS's file cache (shared, dropped under pressure), not the process's own.
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_index(n: int, slices: int, batch: int = 0) -> None:
    vocab = WORDS.split()
    feed = synthetic.NewsFeed(2, vocabulary=vocab)
    scored: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        how = f"add_many, {batch} articles per call (p50/p99: ms per call)" if batch else "add"
        print(f"\nStoryIndex.{how} into SQLite (WAL), growing to {n:,} articles of a synthetic feed "
              f"({feed.coverage_share:.0%} same-story coverage, {feed.reprint_share:.0%} reprints)")
        print(f"{'articles':>10}{'adds/s':>9}{'w/o sig':>9}{'p50 ms':>8}{'p99 ms':>8}"
              f"{'scored':>8}{'dups':>6}{'joined':>8}{'RSS MB':>8}{'load':>6}")
        size_every = max(1, n // slices)
        done = 0
        rates: list[tuple[float, float]] = []
        text_bytes = 0
        find = NamespaceMirror.candidates

        def counted(*a):  # type: ignore[no-untyped-def]
            found = find(*a)
            scored.append(len(found))
            return found

        NamespaceMirror.candidates = counted  # type: ignore[method-assign]
        with StoryIndex(db) as idx:
            while done < n:
                items = feed.take(min(size_every, n - done))  # not timed
                sample = items[::SIG_SAMPLE]
                t_sig = time.perf_counter()
                for it in sample:
                    sg.signature(it.text, it.source)
                t_sig = (time.perf_counter() - t_sig) * len(items) / len(sample)
                lat = []
                scored.clear()
                dups = joined = 0
                verdicts = []
                if batch:
                    chunks = [[{"id": it.id, "text": it.text, "source": it.source,
                                "published": it.published} for it in items[j:j + batch]]
                              for j in range(0, len(items), batch)]
                t_slice = time.perf_counter()
                if batch:
                    for chunk in chunks:
                        t0 = time.perf_counter()
                        verdicts += idx.add_many(chunk)
                        lat.append(time.perf_counter() - t0)
                else:
                    for it in items:
                        t0 = time.perf_counter()
                        verdicts.append(idx.add(it.id, it.text, source=it.source, published=it.published))
                        lat.append(time.perf_counter() - t0)
                t_slice = time.perf_counter() - t_slice
                for v in verdicts:
                    dups += v.duplicate_of is not None
                    joined += v.duplicate_of is None and any(m.kind == "same_story" for m in v.matches)
                done += len(items)
                text_bytes += sum(len(it.text.encode()) for it in items)
                # The first slice's sampled signatures learn the token table and can take longer
                # than the adds that follow them: no meaningful rate without them then.
                rate = len(items) / t_slice
                storage_rate = len(items) / (t_slice - t_sig) if t_slice > 1.05 * t_sig else float("nan")
                rates.append((rate, storage_rate))
                lat.sort()
                print(f"{done:>10,}{rate:>9,.0f}{storage_rate:>9,.0f}{lat[len(lat) // 2] * 1e3:>8.2f}"
                      f"{lat[int(len(lat) * 0.99)] * 1e3:>8.2f}{statistics.mean(scored):>8.0f}"
                      f"{dups / len(items):>6.0%}{joined / len(items):>8.0%}{_rss_mb():>8.0f}"
                      f"{os.getloadavg()[0]:>6.1f}", flush=True)
            plain = [r[1] for r in rates if r[1] == r[1]] or [float("nan")]
            print(f"median over slices: {statistics.median(r[0] for r in rates):,.0f} adds/s, "
                  f"{statistics.median(plain):,.0f} adds/s without signature(); "
                  f"last slice {rates[-1][0]:,.0f} and {rates[-1][1]:,.0f}")
            qs = []
            for q in feed.take(QUERIES):  # unseen articles of the same feed
                t0 = time.perf_counter()
                idx.query(q.text, source=q.source, published=q.published)
                qs.append(time.perf_counter() - t0)
            qs.sort()
            # What a new process pays on its first use of the namespace: building its mirror.
            rss0 = _anon_rss_mb()
            t0 = time.perf_counter()
            with StoryIndex(db) as fresh:
                fresh.query(q.text, source=q.source, published=q.published)
                build = time.perf_counter() - t0
                grown = _anon_rss_mb() - rss0
                held = len(next(iter(fresh.storage._mirrors.values())))
        size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
        print(f"\nQuery at {n:,} articles ({QUERIES} queries): p50 {qs[len(qs) // 2] * 1e3:.2f} ms, "
              f"p99 {qs[int(len(qs) * 0.99)] * 1e3:.2f} ms, max {qs[-1] * 1e3:.2f} ms")
        print(f"Mirror: a new StoryIndex's first query built its in-memory mirror of {held:,} "
              f"articles in {build:.1f} s; its anonymous memory grew by {grown:,.0f} MB "
              f"({grown * 2**20 / max(1, held):,.0f} bytes per article)")
        print(f"On disk: {size / 1e6:,.1f} MB = {size / n:,.0f} bytes per article "
              f"(of which article text {text_bytes / n:,.0f} bytes); peak RSS {_rss_mb():,.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=positive, default=200_000, help="articles to add (default 200,000)")
    ap.add_argument("--slices", type=positive, default=10, help="rows of the add table")
    ap.add_argument("--batch", type=non_negative, default=0,
                    help="add with add_many(), this many articles per call (default 0: add())")
    ap.add_argument("--skip-signatures", action="store_true")
    ap.add_argument("--skip-index", action="store_true")
    args = ap.parse_args()
    if not args.skip_signatures:
        bench_signatures()
    if not args.skip_index:
        bench_index(args.n, args.slices, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
