"""Evaluate story detection on labelled story sets: ``python -m cleaner.stories.eval DATA_DIR``.

For each ``*.jsonl`` file of DATA_DIR (one article per line with ``id``, ``story`` (the gold
label), ``text`` or ``html``, and optionally ``source`` and ``date``/``published``), evaluated
separately:

* **ours**: records cleaned with the batch's own boilerplate (:func:`.batch.clean_records`),
  added to a fresh in-memory :class:`StoryIndex` in file order; ``story_id`` vs the labels.
* **baseline**: plain ``datasketch.MinHashLSH`` (word 5-grams, 128 perms, threshold 0.5) over
  the same cleaned texts, stories = connected components of the LSH matches.
* pairwise precision/recall/F1 over same-story pairs, and the adjusted Rand index.
* **reprints**: synthetic near-copies of sampled articles (head or tail paragraph dropped, a
  few words edited, site furniture added) queried against the index: the share flagged
  ``duplicate`` of their original, and the number of ``duplicate`` verdicts (of the real
  articles and of the copies) that point into a different gold story (must be 0).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CleanerError, InvalidArgumentError
from ..eval import non_negative, positive

#: Articles sampled per file for the reprint check (enough for a share to +-0.02).
REPRINT_SAMPLE = 300
#: Seed of the reprint sampler, so two runs test the same copies.
REPRINT_SEED = 7
#: Baseline parameters: the issue's "plain MinHashLSH on word 5-grams at threshold 0.5".
BASELINE_THRESHOLD = 0.5
BASELINE_NUM_PERM = 128
BASELINE_SHINGLE = 5

# Furniture appended to synthetic reprints: generic syndication lines, not taken from the data.
_FURNITURE_HEAD = ["Advertisement", "Share this article", "Posted by the newsroom staff"]
_FURNITURE_TAIL = ["Copyright {year} Syndicated Media Group. All rights reserved.",
                   "This material may not be published, broadcast, rewritten or redistributed.",
                   "Sign up for our daily newsletter to get the top stories in your inbox."]
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    ari: float
    clusters: int


def _pairs_same(labels: Mapping[str, Hashable]) -> int:
    sizes = Counter(labels.values())
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_scores(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> Scores:
    """Pairwise P/R/F1 of same-cluster pairs, and the adjusted Rand index."""
    ids = [i for i in gold if i in pred]
    n = len(ids)
    cont = Counter((pred[i], gold[i]) for i in ids)
    tp = sum(c * (c - 1) // 2 for c in cont.values())
    pp = _pairs_same({i: pred[i] for i in ids})
    gp = _pairs_same({i: gold[i] for i in ids})
    precision = tp / pp if pp else 1.0
    recall = tp / gp if gp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = n * (n - 1) / 2
    expected = pp * gp / total if total else 0.0
    maximum = (pp + gp) / 2
    ari = (tp - expected) / (maximum - expected) if maximum != expected else 1.0
    return Scores(precision, recall, f1, ari, len(set(pred[i] for i in ids)))


def baseline_clusters(order: Sequence[str], texts: Mapping[str, str]) -> dict[str, int]:
    """Plain datasketch MinHashLSH on word 5-grams at threshold 0.5, connected components."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=BASELINE_THRESHOLD, num_perm=BASELINE_NUM_PERM)
    parent = {i: i for i in order}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in order:
        words = _WORD.findall(texts[i].lower())
        k = min(BASELINE_SHINGLE, len(words))
        m = MinHash(num_perm=BASELINE_NUM_PERM)
        m.update_batch([" ".join(words[j:j + k]).encode() for j in range(len(words) - k + 1)])
        for other in lsh.query(m):
            parent[find(other)] = find(i)
        lsh.insert(i, m)
    roots: dict[str, int] = {}
    return {i: roots.setdefault(find(i), len(roots)) for i in order}


def make_reprint(text: str, rng: random.Random) -> str:
    """A syndicated near-copy: head or tail paragraph dropped (when there are enough), two words
    edited, furniture lines added."""
    paras = [p for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    if len(paras) >= 6:
        if rng.random() < 0.5:
            paras = paras[1:]
        else:
            paras = paras[:-1]
    words = "\n\n".join(paras).split(" ")
    for _ in range(2):
        if len(words) > 10:
            j = rng.randrange(len(words))
            words[j] = rng.choice(["reportedly", "also", "on Tuesday", "local"])
    body = " ".join(words)
    head = rng.choice(_FURNITURE_HEAD)
    tail = rng.choice(_FURNITURE_TAIL).format(year=rng.randrange(2010, 2024))
    return f"{head}\n\n{body}\n\n{tail}"


def load(path: Path) -> list[dict[str, Any]]:
    """The labelled rows of one file: JSON objects with a distinct ``id`` and a ``story``
    (strings or integers, read as strings). Anything else is an InvalidArgumentError naming
    the file and line."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            where = f"{path.name} line {n}"
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                row = json.loads(line)
            except UnicodeDecodeError:
                raise InvalidArgumentError(f"{where}: not UTF-8") from None
            except (json.JSONDecodeError, RecursionError) as exc:
                raise InvalidArgumentError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise InvalidArgumentError(f"{where}: a row must be a JSON object")
            for field in ("id", "story"):
                value = row.get(field)
                if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
                    raise InvalidArgumentError(f'{where}: "{field}" must be a non-empty string or an integer')
                row[field] = str(value)
            if row["id"] in seen:
                raise InvalidArgumentError(f"{where}: id {row['id']!r} appears twice")
            seen.add(row["id"])
            rows.append(row)
    if not rows:
        raise InvalidArgumentError(f"{path.name}: no rows to evaluate")
    return rows




def evaluate_file(path: Path, *, sample: int = REPRINT_SAMPLE, limit: int | None = None
                  ) -> dict[str, Any]:
    """All measurements for one labelled file."""
    from .batch import clean_records
    from .index import StoryIndex

    rows = load(path)
    if limit:
        rows = rows[:limit]
    gold = {r["id"]: r["story"] for r in rows}
    records = [{"id": r["id"], "text": r.get("text"), "html": r.get("html"),
                "source": r.get("source"), "published": r.get("published") or r.get("date")}
               for r in rows]
    for rec in records:
        if rec["html"] is None:
            del rec["html"]
    t0 = time.perf_counter()
    cleaned: dict[str, str] = {}
    meta: dict[str, tuple[str | None, str | None]] = {}
    errors = 0
    for _rec, art, err in clean_records(records):
        if art is None:
            errors += 1
            continue
        cleaned[art["id"]] = art["text"]
        meta[art["id"]] = (art["source"], art["published"])
    t_clean = time.perf_counter() - t0
    order = [r["id"] for r in rows if r["id"] in cleaned]
    t0 = time.perf_counter()
    pred: dict[str, str] = {}
    dup_of: dict[str, str | None] = {}
    with StoryIndex(":memory:") as idx:
        for i in order:
            v = idx.add(i, cleaned[i], source=meta[i][0], published=meta[i][1])
            pred[i] = v.story_id
            dup_of[i] = v.duplicate_of
        t_index = time.perf_counter() - t0
        rng = random.Random(REPRINT_SEED)
        picks = rng.sample(order, min(sample, len(order)))
        flagged = 0
        wrong_copy = 0
        for i in picks:
            copy = make_reprint(cleaned[i], rng)
            v = idx.query(copy, published=meta[i][1])
            root = dup_of[i] or i
            if v.duplicate_of is not None:
                if v.duplicate_of in (i, root) or gold[v.duplicate_of] == gold[i]:
                    flagged += 1
                if gold[v.duplicate_of] != gold[i]:
                    wrong_copy += 1
    wrong_dup = sum(1 for i, d in dup_of.items() if d is not None and gold[d] != gold[i])
    t0 = time.perf_counter()
    base: dict[str, Hashable] = dict(baseline_clusters(order, cleaned))
    t_base = time.perf_counter() - t0
    # A record that could not be cleaned (nothing but furniture) counts as a story of its own.
    for i in gold:
        if i not in cleaned:
            pred[i] = base[i] = f"unusable:{i}"
    gold_used = gold
    return {
        "file": path.name, "articles": len(gold), "errors": errors,
        "stories": len(set(gold_used.values())),
        "ours": pairwise_scores(pred, gold_used), "baseline": pairwise_scores(base, gold_used),
        "reprints": len(picks), "reprints_flagged": flagged / len(picks) if picks else 1.0,
        "wrong_duplicates": wrong_dup + wrong_copy,
        "duplicates": sum(1 for d in dup_of.values() if d is not None),
        "clean_s": t_clean, "index_s": t_index, "baseline_s": t_base,
    }


def seeds_check(seed_dir: Path) -> tuple[int, int, int]:
    """(articles, stories, duplicates) of the seed articles added to a fresh index."""
    from .index import StoryIndex

    files = sorted(seed_dir.glob("*.txt"))
    with StoryIndex(":memory:") as idx:
        vs = [idx.add(p.name, p.read_text(encoding="utf-8")) for p in files]
    return len(vs), len({v.story_id for v in vs}), sum(v.duplicate_of is not None for v in vs)


def print_report(results: list[dict[str, Any]], out: Any = None) -> None:
    w = (out if out is not None else sys.stdout).write
    w("\nSame-story clustering (pairwise over same-story pairs; ARI = adjusted Rand index)\n")
    w(f"{'file':<24}{'docs':>6}{'gold':>6} | {'method':<9}{'P':>7}{'R':>7}{'F1':>7}{'ARI':>7}{'clusters':>9}\n")
    for r in results:
        for name in ("ours", "baseline"):
            s: Scores = r[name]
            lead = f"{r['file']:<24}{r['articles']:>6}{r['stories']:>6}" if name == "ours" else " " * 36
            w(f"{lead} | {name:<9}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.ari:>7.3f}{s.clusters:>9}\n")
        w(f"{'':36} | {'F1 gain':<9}{'':>14}{r['ours'].f1 - r['baseline'].f1:>+7.3f}\n")
    w("\nReprints (synthetic near-copies queried against the index) and duplicate verdicts\n")
    w(f"{'file':<24}{'copies':>7}{'flagged':>9}{'dups':>6}{'wrong-story dups':>18}{'unusable':>9}"
      f"{'clean s':>9}{'index s':>9}{'baseline s':>12}\n")
    for r in results:
        w(f"{r['file']:<24}{r['reprints']:>7}{r['reprints_flagged']:>9.3f}{r['duplicates']:>6}"
          f"{r['wrong_duplicates']:>18}{r['errors']:>9}{r['clean_s']:>9.1f}{r['index_s']:>9.1f}"
          f"{r['baseline_s']:>12.1f}\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cleaner.stories.eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path, help="folder of labelled *.jsonl files (e.g. stories-dev)")
    ap.add_argument("--only", action="append", default=[], help="evaluate only files whose name contains this")
    ap.add_argument("--limit", type=positive, default=None, help="first N articles per file (quick runs)")
    ap.add_argument("--sample", type=non_negative, default=REPRINT_SAMPLE, help="reprints per file")
    ap.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parents[2] / "seeds",
                    help="folder of seed articles that must form one story")
    args = ap.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"error: {args.data_dir} is not a folder", file=sys.stderr)
        return 2
    files = sorted(p for p in args.data_dir.glob("*.jsonl")
                   if not args.only or any(o in p.name for o in args.only))
    if not files:
        only = f" matching --only {' / '.join(args.only)}" if args.only else ""
        print(f"error: no *.jsonl files{only} in {args.data_dir}", file=sys.stderr)
        return 2
    results = []
    for p in files:
        print(f"evaluating {p.name} ...", file=sys.stderr)
        try:
            results.append(evaluate_file(p, sample=args.sample, limit=args.limit))
        except (CleanerError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print_report(results)
    if args.seeds.is_dir():
        n, stories, dups = seeds_check(args.seeds)
        print(f"\nSeeds: {n} articles -> {stories} story(ies), {dups} duplicate(s) (want 1 and 0)")
    else:
        print(f"\nSeeds: not checked ({args.seeds} is not a folder)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
