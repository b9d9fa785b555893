"""The Spark job in local mode (`local[2]`): the same lines, duplicates and stories as the
single-machine `cleaner clean --dedup` on the same input. One Spark session per module."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_batch_dedup import build_corpus, stories_of

from cleaner.cli import main

pytestmark = pytest.mark.spark


def _java_missing() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "no java on PATH (Spark needs a JVM)"
    try:
        subprocess.run([java, "-version"], capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java does not run: {exc}"
    return None


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install .[spark])")
    reason = _java_missing()
    if reason:
        pytest.skip(reason)
    from cleaner.spark_job import session

    s = session("local[2]", partitions=2)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("spark_corpus") / "in")


@pytest.fixture(scope="module")
def cli_lines(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("spark_cli") / "cli.jsonl"
    result = CliRunner().invoke(main, ["clean", str(corpus), "-o", str(out), "--dedup", "--jobs", "1", "-q"])
    assert result.exit_code == 1, result.output
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]


def _read_parts(folder: Path) -> list[dict]:
    assert (folder / "_SUCCESS").exists()
    return [json.loads(line) for part in sorted(folder.glob("part-*")) for line in
            part.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_spark_job_gives_the_cli_lines_duplicates_and_stories(spark, corpus: Path, cli_lines: list[dict],
                                                              tmp_path: Path) -> None:
    from cleaner.spark_job import run

    out = tmp_path / "spark_out"
    counts = run(spark, [str(corpus)], str(out), fmt="jsonl", partitions=2)
    lines = _read_parts(out)
    assert counts == {"ok": 15, "failed": 1}
    assert [d["id"] for d in lines] == [d["id"] for d in cli_lines]  # input order, as the CLI writes it
    for got, want in zip(lines, cli_lines):
        for field in ("url", "source", "published", "title", "text", "removed", "error", "duplicate_of"):
            assert got[field] == want[field], (got["id"], field)
    assert stories_of(lines) == stories_of(cli_lines)
    by_id = {d["id"]: d for d in lines}
    assert by_id["beta/reprint0.html"]["duplicate_of"] == "alpha/story0.html"
    assert by_id["beta/follow1.html"]["story_id"] == by_id["alpha/story1.html"]["story_id"]


def test_spark_job_reads_uris_with_binary_files_and_writes_parquet(spark, corpus: Path, tmp_path: Path) -> None:
    from cleaner.spark_job import run

    out = tmp_path / "parquet"
    # URIs go through binaryFiles, as hdfs:// or s3a:// inputs on a cluster do.
    run(spark, [(corpus / "alpha").as_uri(), (corpus / "beta").as_uri()], str(out), fmt="parquet", partitions=2)
    rows = spark.read.parquet(str(out)).collect()
    assert len(rows) == 9
    by_name = {r["id"]: r for r in rows}
    assert by_name["beta/reprint0.html"]["duplicate_of"] == "alpha/story0.html"
    assert by_name["alpha/story0.html"]["removed"] is not None
    assert by_name["beta/broken.html"]["error"].startswith("BinaryInputError")


def test_spark_job_command_line_refuses_an_existing_output(tmp_path: Path) -> None:
    from cleaner.spark_job import main as job_main

    (tmp_path / "out").mkdir()
    assert job_main([str(tmp_path), str(tmp_path / "out")]) == 2


def test_spark_job_command_line_refuses_an_output_inside_its_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from cleaner.spark_job import main as job_main

    (tmp_path / "page.txt").write_text("The council approved the budget on Tuesday.", encoding="utf-8")
    assert job_main([str(tmp_path), str(tmp_path / "sub" / "out")]) == 2
    assert "inside the input" in capsys.readouterr().err
    assert not (tmp_path / "sub").exists()
