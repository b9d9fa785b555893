"""Batch cleaning and story dedup on Spark: the same library functions as ``cleaner clean
--dedup``, spread over a cluster.

    spark-submit --py-files cleaner.zip cleaner/spark_job.py IN_FOLDER OUT --format parquet
    python -m cleaner.spark_job IN_FOLDER OUT --master 'local[2]'

Steps (each a library call, none re-implemented here):

1. **clean** in ``mapPartitions``: input files are split over tasks; each task streams its
   files' records with :func:`cleaner.batch.read_source` and cleans them with
   :func:`cleaner.batch.clean_record` (an error line for a bad record, as in the CLI);
2. **text for dedup**: records are grouped by source and each source's boilerplate is learnt
   from its own articles (:class:`cleaner.boilerplate.BoilerplateModel`) and stripped with
   :func:`cleaner.stories.batch.clean_with_model`; short lines found in several sources are
   counted over the whole input and stripped too, as ``dedup_records`` does per window;
3. **signatures** (:func:`cleaner.stories.signatures.signature`, with the source, as the index
   calls it) and LSH **band keys** (:func:`~cleaner.stories.signatures.band_keys`); a
   ``groupByKey`` on band keys gives the candidate pairs (each article meets a key's
   ``PER_KEY_LIMIT`` latest earlier articles), and each article keeps its ``MAX_CANDIDATES``
   earlier candidates sharing the most keys, as the index does;
4. each article is **scored** against its candidates (:func:`cleaner.stories.rule.score_batch`)
   where the signatures are; pairs under the rule's noise floor are dropped;
5. the scored pairs are collected on the driver and the **clustering rule** is replayed in
   input order (:func:`cleaner.stories.rule.replay`): the same decisions the CLI's story index
   takes, article by article;
6. lines (the CLI's JSONL fields plus ``story_id`` and ``duplicate_of``) are written as JSONL
   part files or Parquet, in input order.

Absolute imports throughout: run as a file by ``spark-submit``, this module is ``__main__``
and hands over to ``cleaner.spark_job`` so executors unpickle functions by that name.

Input order is (file, record within file), files in :func:`cleaner.batch.discover` order, so
a folder gives the same order, hence the same stories, as ``cleaner clean FOLDER --dedup``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cleaner.batch import (
    Source,
    UsageError,
    check_output_apart,
    clean_record,
    dedup_input,
    discover,
    kind_of,
    read_source,
    root_labels,
    walk_key,
)
from cleaner.eval import positive
from cleaner.errors import CleanerError

#: Output formats of the Spark job.
SPARK_FORMATS = ("jsonl", "parquet")
#: Shuffle partitions when none are given: enough for a few executors, few enough that a
#: small job does not spend its time scheduling empty tasks.
DEFAULT_SHUFFLE_PARTITIONS = 8
#: Output columns, in order (``_pos`` is the input order, used to sort and then dropped).
COLUMNS = ("id", "url", "source", "published", "title", "text", "removed", "error", "story_id", "duplicate_of")

Pos = tuple[int, int]


# --------------------------------------------------------------------------- tasks
# Module-level functions: Spark ships them to executors by reference (cleaner must be
# importable there: --py-files or an installed wheel).


def _clean_source(file_idx: int, src: Source, stream: io.BytesIO | None = None) -> Iterator[dict[str, Any]]:
    for rec_idx, rec in enumerate(read_source(src, stream=stream)):
        line = clean_record(rec)
        line["_pos"] = (file_idx, rec_idx)
        yield line


def clean_files(items: Iterable[tuple[int, Source]]) -> Iterator[dict[str, Any]]:
    """Clean every record of the given (file index, source) pairs; each line gets ``_pos``."""
    for file_idx, src in items:
        yield from _clean_source(file_idx, src)


def clean_blobs(items: Iterable[tuple[str, bytes]], order: dict[str, tuple[int, str]]) -> Iterator[dict[str, Any]]:
    """Like :func:`clean_files` for ``binaryFiles`` input (HDFS, S3...): (path, content) pairs."""
    for path, content in items:
        file_idx, name = order[path]
        src = Source(path, name, kind_of(path) or "html", len(content))  # type: ignore[arg-type]
        yield from _clean_source(file_idx, src, io.BytesIO(content))


def _error_row(r: dict[str, Any], exc: CleanerError) -> dict[str, Any]:
    """The error a record gets, worded as ``dedup_records`` words it."""
    return {"id": r["id"], "_pos": r["_pos"], "error": f"{type(exc).__name__}: {exc}"}


def clean_texts(group: tuple[str | None, Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """One source's articles with their boilerplate learnt from the source's own pages and
    stripped (:func:`cleaner.stories.batch.clean_with_model`, as ``dedup_records`` does).

    Yields ``{"id", "_pos", "source", "published", "text"}`` or ``{"id", "_pos", "error"}``."""
    from cleaner.boilerplate import BoilerplateModel
    from cleaner.stories.batch import clean_with_model

    source, rows = group
    items = sorted(rows, key=lambda r: r["_pos"])
    model = BoilerplateModel()
    for r in items:
        try:
            model.add(source, r["text"], "text")
        except CleanerError:
            pass
    for r in items:
        try:
            text = clean_with_model(r["text"], "text", source, model)
        except CleanerError as exc:
            yield _error_row(r, exc)
            continue
        yield {"id": r["id"], "_pos": r["_pos"], "source": source, "published": r["published"], "text": text}


def sign(r: dict[str, Any], shared: set[str]) -> dict[str, Any]:
    """Strip the furniture shared by several sources, then sign the text as the index does
    (``signature(text, source)``). ``{"id", "_pos", "days", "sig", "keys"}`` or an error."""
    from cleaner.stories.batch import strip_shared
    from cleaner.stories.rule import parse_published
    from cleaner.stories.signatures import band_keys, signature

    if "error" in r:
        return r
    try:
        text = strip_shared(r["text"], shared)
        days = parse_published(r["published"])
        sig = signature(text, r["source"])
    except CleanerError as exc:
        return _error_row(r, exc)
    return {"id": r["id"], "_pos": r["_pos"], "days": days, "sig": sig.to_bytes(), "keys": band_keys(sig)}


def bucket_pairs(bucket: tuple[int, Iterable[tuple[Pos, str]]], per_key: int
                 ) -> Iterator[tuple[tuple[str, str], int]]:
    """(earlier, later) pairs of articles sharing one band key, counted once: each article
    meets the ``per_key`` latest earlier ones, as an index lookup returns a key's
    ``PER_KEY_LIMIT`` most recent articles (and the work per article stays bounded)."""
    members = sorted(bucket[1])
    for j in range(1, len(members)):
        later = members[j][1]
        for i in range(max(0, j - per_key), j):
            yield (members[i][1], later), 1


def top_candidates(group: tuple[str, Iterable[tuple[str, int, Pos]]], limit: int, min_shared: int = 1
                   ) -> Iterator[tuple[str, str]]:
    """The earlier articles the index would score for one article: the ``limit`` sharing
    the most band keys, ties to the most recent (the index's ORDER BY n DESC, pk DESC)."""
    later, cands = group
    ranked = sorted((c for c in cands if c[1] >= min_shared), key=lambda c: (-c[1], (-c[2][0], -c[2][1])))[:limit]
    for earlier, _n, _pos in ranked:
        yield earlier, later


def score(later: str, later_sig: bytes, later_days: float | None,
          earlier: Iterable[tuple[str, bytes, float | None]]
          ) -> Iterator[tuple[str, str, float, float, float]]:
    """Score one article against all its candidates (``(id, sig, days)`` of each) as the index
    does, new article first, and yield the pairs worth keeping (the rule ignores the others,
    so dropping them changes nothing). Stories are decided later, on the driver, so for the
    spread weighting each candidate counts as a story of its own (the index counts the
    candidates' actual stories; see README "On Spark")."""
    import numpy as np

    from cleaner.stories.rule import score_batch
    from cleaner.stories.signatures import Signature, SignatureBatch

    cands = list(earlier)
    if not cands:
        return
    batch = score_batch(Signature.from_bytes(later_sig), SignatureBatch.from_bytes([c[1] for c in cands]),
                        later_days, [c[2] for c in cands], np.arange(len(cands)))
    for i in np.flatnonzero(batch.worth_keeping()).tolist():
        s = batch.pair(i)
        yield cands[i][0], later, s.dup, s.containment, s.story


# --------------------------------------------------------------------------- driver


def story_key(first_id: str) -> str:
    """A story id from the id of the story's first article: stable across runs, and the
    same shape as the index's ids."""
    return "s_" + hashlib.sha1(first_id.encode("utf-8", "replace")).hexdigest()[:16]


def run(spark: Any, inputs: Sequence[str], output: str, *, fmt: str = "jsonl", dedup: bool = True,
        partitions: int | None = None) -> dict[str, int]:
    """Clean (and dedup) everything under ``inputs`` into ``output``; returns counts."""
    if fmt not in SPARK_FORMATS:
        raise UsageError(f"format must be one of {', '.join(SPARK_FORMATS)}; got {fmt!r}")
    sc = spark.sparkContext
    lines = _cleaned(sc, inputs, partitions)
    lines.persist()
    verdicts: dict[str, tuple[str | None, str | None, str | None]] = {}
    if dedup:
        verdicts = _stories(sc, lines, partitions or DEFAULT_SHUFFLE_PARTITIONS)
    vb = sc.broadcast(verdicts)

    def finish(line: dict[str, Any]) -> dict[str, Any]:
        if dedup:
            story, dup, err = vb.value.get(line["id"], (None, None, None)) if line["error"] is None else (None, None, None)
            if err is not None:
                line["error"] = f"dedup: {err}"
            line["story_id"], line["duplicate_of"] = story, dup
        return line

    out = lines.map(finish).sortBy(lambda r: r["_pos"], numPartitions=max(1, partitions or DEFAULT_SHUFFLE_PARTITIONS))
    counts = out.map(lambda r: ("failed" if r["error"] else "ok", 1)).countByKey()
    if fmt == "jsonl":
        out.map(lambda r: json.dumps({k: r.get(k) for k in COLUMNS if dedup or k not in ("story_id", "duplicate_of")},
                                     ensure_ascii=False)).saveAsTextFile(output)
    else:
        _write_parquet(spark, out, output, dedup)
    lines.unpersist()
    vb.unpersist()
    return {"ok": int(counts.get("ok", 0)), "failed": int(counts.get("failed", 0))}


def _cleaned(sc: Any, inputs: Sequence[str], partitions: int | None) -> Any:
    remote = [p for p in inputs if "://" in p]
    if remote:
        if len(remote) != len(inputs):
            raise UsageError("give either paths on a shared file system or URIs (hdfs://, s3a://, file://...), "
                             "not both")
        return _cleaned_remote(sc, remote, partitions)
    sources = list(enumerate(discover(inputs)))
    if not sources:
        return sc.parallelize([], 1)
    slices = min(len(sources), partitions or max(sc.defaultParallelism, 1) * 2)
    return sc.parallelize(sources, slices).mapPartitions(clean_files)


def _cleaned_remote(sc: Any, uris: Sequence[str], partitions: int | None) -> Any:
    """``binaryFiles`` over each URI. File names and order come from a listing on the driver,
    in :func:`cleaner.batch.discover` order, so ids and stories match a local run."""
    jvm, conf = sc._jvm, sc._jsc.hadoopConfiguration()
    order: dict[str, tuple[int, str]] = {}
    rdds = []
    for root, label in zip(uris, root_labels(uris)):
        path = jvm.org.apache.hadoop.fs.Path(root)
        fs = path.getFileSystem(conf)
        base = fs.makeQualified(path).toString().rstrip("/")
        found: list[tuple[str, str]] = []
        it = fs.listFiles(path, True)
        while it.hasNext():
            full = it.next().getPath().toString()
            rel = full[len(base):].lstrip("/") or full.rsplit("/", 1)[-1]
            if kind_of(full) is not None and not any(part.startswith(".") for part in rel.split("/")):
                found.append((full, rel))
        for full, rel in sorted(found, key=lambda fr: walk_key(fr[1])):
            order[full] = (len(order), f"{label}/{rel}" if len(uris) > 1 else rel)
        rdds.append(sc.binaryFiles(root, minPartitions=partitions))
    ob = sc.broadcast(order)
    blobs = sc.union(rdds).filter(lambda kv: kv[0] in ob.value)
    return blobs.mapPartitions(lambda items: clean_blobs(items, ob.value))


def _stories(sc: Any, lines: Any, partitions: int) -> dict[str, tuple[str | None, str | None, str | None]]:
    """id -> (story_id, duplicate_of, error) for every clean line."""
    from cleaner.stories.batch import SHARED_MIN_SOURCES, short_line_keys
    from cleaner.stories.rule import PairScore, replay
    from cleaner.stories.storage import MAX_CANDIDATES, MIN_SHARED_BANDS, PER_KEY_LIMIT

    ok = lines.filter(lambda r: r["error"] is None)
    by_source = ok.map(lambda r: (r["source"], {**dedup_input(r), "_pos": r["_pos"]}))
    cleaned = by_source.groupByKey(partitions).flatMap(clean_texts)
    cleaned.persist()
    # Short lines found in several sources (one CMS behind many sites): furniture, as
    # dedup_records finds it (there per window of records, here over the whole input).
    shared = set(cleaned.filter(lambda r: "error" not in r)
                 .flatMap(lambda r: [(k, r["source"]) for k in short_line_keys(r["text"])])
                 .distinct(partitions).map(lambda kv: (kv[0], 1)).reduceByKey(lambda a, b: a + b, partitions)
                 .filter(lambda kv: kv[1] >= SHARED_MIN_SOURCES).keys().collect())
    shb = sc.broadcast(shared)
    signed = cleaned.map(lambda r: sign(r, shb.value))
    signed.persist()

    result: dict[str, tuple[str | None, str | None, str | None]] = {}
    for r in signed.filter(lambda r: "error" in r).collect():
        result[r["id"]] = (None, None, r["error"])
    good = signed.filter(lambda r: "error" not in r)
    # An id seen before is refused, as the index refuses it: only its first record counts.
    order_pos = sorted(good.map(lambda r: (r["_pos"], r["id"])).collect())
    order: list[str] = []
    first_pos: dict[str, Pos] = {}
    for pos, rid in order_pos:
        if rid in first_pos:
            result.setdefault(rid, (None, None, f"ArticleExistsError: article {rid!r} is already in the index; "
                                                "use get() to read it or remove() it first"))
            continue
        first_pos[rid] = pos
        order.append(rid)
    fb = sc.broadcast(first_pos)
    good = good.filter(lambda r: fb.value.get(r["id"]) == r["_pos"])

    sigs = good.map(lambda r: (r["id"], (r["sig"], r["days"])))
    sigs.persist()
    buckets = good.flatMap(lambda r: [(k, (r["_pos"], r["id"])) for k in r["keys"]]).groupByKey(partitions)
    counted = buckets.flatMap(lambda b: bucket_pairs(b, PER_KEY_LIMIT)).reduceByKey(lambda a, b: a + b, partitions)
    ranked = (counted.map(lambda kv: (kv[0][1], (kv[0][0], kv[1], fb.value[kv[0][0]])))
              .groupByKey(partitions)
              .flatMap(lambda g: top_candidates(g, MAX_CANDIDATES, MIN_SHARED_BANDS)))
    # (earlier, later): attach the earlier article's signature, gather each later article's
    # candidates, attach its own signature, then score it against all of them at once.
    with_earlier = ranked.join(sigs, partitions).map(lambda kv: (kv[1][0], (kv[0], *kv[1][1])))
    scored = with_earlier.groupByKey(partitions).join(sigs, partitions).flatMap(
        lambda kv: score(kv[0], kv[1][1][0], kv[1][1][1], kv[1][0]))
    pairs = {(a, b): PairScore(dup=d, containment=c, story=s) for a, b, d, c, s in scored.collect()}
    sigs.unpersist()
    signed.unpersist()
    cleaned.unpersist()
    fb.unpersist()
    shb.unpersist()

    for rid, (key, dup_of) in replay(order, pairs).items():
        result[rid] = (story_key(key), dup_of, None)
    return result


def _write_parquet(spark: Any, rows: Any, output: str, dedup: bool) -> None:
    from pyspark.sql import types as T

    removed = T.ArrayType(T.StructType([
        T.StructField("text", T.StringType()), T.StructField("reason", T.StringType()),
        T.StructField("score", T.DoubleType()), T.StructField("position", T.LongType())]))
    fields = [T.StructField(c, removed if c == "removed" else T.StringType()) for c in COLUMNS
              if dedup or c not in ("story_id", "duplicate_of")]
    schema = T.StructType(fields)
    names = [f.name for f in fields]

    def as_row(r: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for n in names:
            v = r.get(n)
            if n == "removed":
                v = [(x["text"], x["reason"], float(x["score"]), int(x["position"])) for x in v or []]
            out.append(v)
        return tuple(out)

    spark.createDataFrame(rows.map(as_row), schema).write.mode("error").parquet(output)


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="cleaner.spark_job", description=__doc__.split("\n\n")[0],
                                 epilog="Submit with: spark-submit --py-files cleaner.zip cleaner/spark_job.py IN OUT")
    ap.add_argument("inputs", nargs="+", metavar="IN",
                    help="folders or files (.html/.htm/.txt/.jsonl/.warc/.warc.gz) on a shared file system, "
                         "or hdfs:// / s3a:// URIs")
    ap.add_argument("output", metavar="OUT", help="output folder (must not exist)")
    ap.add_argument("--format", choices=SPARK_FORMATS, default="jsonl", help="jsonl part files or parquet")
    ap.add_argument("--no-dedup", action="store_true", help="clean only: no story_id / duplicate_of")
    ap.add_argument("--partitions", type=positive, default=None, help="input slices and shuffle partitions (at least 1)")
    ap.add_argument("--master", default=None, help="Spark master when not run by spark-submit (e.g. local[2])")
    return ap.parse_args(argv)


def session(master: str | None = None, partitions: int = DEFAULT_SHUFFLE_PARTITIONS) -> Any:
    """A SparkSession for the job (UI off, few shuffle partitions)."""
    from pyspark.sql import SparkSession

    # Executors in local mode must run this interpreter, where cleaner is installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("article-cleaner")
    if master:
        builder = builder.master(master)
    return (builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .getOrCreate())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.path.exists(args.output):
        print(f"error: output {args.output} already exists", file=sys.stderr)
        return 2
    try:  # an output inside a local input folder would be read back by the next run
        check_output_apart([p for p in args.inputs if "://" not in p], [], args.output, "jsonl")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = session(args.master, args.partitions or DEFAULT_SHUFFLE_PARTITIONS)
    try:
        counts = run(spark, args.inputs, args.output, fmt=args.format, dedup=not args.no_dedup,
                     partitions=args.partitions)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(f"{counts['ok'] + counts['failed']:,} articles: {counts['ok']:,} ok, {counts['failed']:,} failed",
          file=sys.stderr)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        # Run as a file (spark-submit cleaner/spark_job.py): import the package version.
        from cleaner.spark_job import main as _main

        sys.exit(_main())
    sys.exit(main())
