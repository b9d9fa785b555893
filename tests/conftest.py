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


def _read_keys(con: sqlite3.Connection) -> dict[int, list[int]]:
    import numpy as np

    from cleaner.stories.storage import KEYS_DTYPE

    return {int(pk): np.frombuffer(bytes(keys), KEYS_DTYPE).tolist()
            for pk, keys in con.execute("SELECT pk, keys FROM articles")}


@pytest.fixture
def read_keys() -> Callable[[sqlite3.Connection], dict[int, list[int]]]:
    """Reads a SQLite store's band keys as {article pk: [key, ...]}."""
    return _read_keys
