"""``python -m cleaner.stories.eval``: labelled files read strictly, bad input a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cleaner.stories.eval import main


def _write(folder: Path, rows: list[object] | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "set.jsonl"
    if isinstance(rows, bytes):
        path.write_bytes(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def _rows(seed_texts: dict[str, str]) -> list[dict[str, object]]:
    return [{"id": i, "story": 7, "text": text, "source": f"outlet{i}.example"}
            for i, text in enumerate(sorted(seed_texts.values()))]


def test_integer_ids_and_labels_are_read_as_strings(tmp_path: Path, seed_texts: dict[str, str], capsys) -> None:  # type: ignore[no-untyped-def]
    folder = _write(tmp_path / "ok", _rows(seed_texts))
    assert main([str(folder), "--sample", "2", "--seeds", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(ln for ln in out if ln.startswith("set.jsonl"))
    assert row.split()[1:3] == ["3", "1"]  # 3 docs, 1 gold story
    assert "1.000  1.000  1.000" in row  # the seeds are one story, and ours says so
    # The reprint table times ours and the plain-MinHash baseline side by side.
    head = next(ln for ln in out if "wrong-story dups" in ln)
    timed = [ln for ln in out if ln.startswith("set.jsonl")][-1].split()
    assert head.split()[-4:] == ["index", "s", "baseline", "s"] and float(timed[-1]) >= 0


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{}\n", "line 1: not UTF-8"),
    (b'{"id": "a", "story": "s", "text": "x"}\n{"id": "a", "story": "s", "text": "y"}\n', "appears twice"),
    (b'{"id": "a", "text": "x"}\n', '"story" must be'),
    (b"[1, 2]\n", "must be a JSON object"),
    (b'{"id": "a", "story": \n', "not valid JSON"),
    (b"\n\n", "no rows"),
])
def test_bad_rows_are_a_one_line_error_naming_file_and_line(tmp_path: Path, capsys, content: bytes,  # type: ignore[no-untyped-def]
                                                           message: str) -> None:
    folder = _write(tmp_path / "bad", content)
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert "set.jsonl" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "-1"], ["--sample", "-5"]])
def test_counts_out_of_range_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path), *args])
    assert exc.value.code == 2
