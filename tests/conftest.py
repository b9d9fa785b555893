from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = ROOT / "seeds"


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    """The three sample articles shipped in seeds/ (one story, three outlets)."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))}


def _read_postings(con: sqlite3.Connection) -> dict[int, list[int]]:
    import numpy as np

    from cleaner.stories.storage import POSTING_DTYPE

    return {int(k): np.frombuffer(bytes(pks), POSTING_DTYPE).tolist()
            for k, pks in con.execute("SELECT key, pks FROM postings")}


@pytest.fixture
def read_postings() -> Callable[[sqlite3.Connection], dict[int, list[int]]]:
    """Reads a SQLite store's band-key posting lists as {key: [article pk, oldest first]}."""
    return _read_postings
