"""The SQLite store under crashes and concurrent writers, and the PostgreSQL backend."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cleaner.errors import InvalidArgumentError
from cleaner.stories import StoryIndex, open_storage, synthetic
from cleaner.stories.signatures import Signature, band_keys
from cleaner.stories.storage import PER_KEY_LIMIT

ROOT = Path(__file__).resolve().parent.parent

# A writer that adds synthetic articles forever and prints each id once add() has returned.
_WRITER = """
import random, sys
from cleaner.stories import StoryIndex, synthetic
db, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(prefix)
events = [synthetic.make_event(rng) for _ in range(5)]
with StoryIndex(db) as idx:
    i = 0
    while n < 0 or i < n:
        idx.add(f"{prefix}{i}", synthetic.report(rng, events[i % 5]))
        print(f"{prefix}{i}", flush=True)
        i += 1
"""


def _spawn(db: Path, prefix: str, n: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(db), prefix, str(n)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_consistent(db: Path, read_postings: Callable[[sqlite3.Connection], dict[int, list[int]]]
                      ) -> list[str]:
    """integrity_check is ok and the posting lists are exactly the articles' band keys; returns
    the ids."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = []
        keys_of: dict[int, set[int]] = {}
        for pk, aid, sig, story in con.execute("SELECT pk, id, sig, story FROM articles ORDER BY pk"):
            keys_of[pk] = set(band_keys(Signature.from_bytes(sig)))
            assert con.execute("SELECT 1 FROM stories WHERE id = ?", (story,)).fetchone()
            ids.append(aid)
        # Every posting points at a live article that has the key, in insertion order, and a
        # list is full (PER_KEY_LIMIT) or holds every article with the key.
        postings = read_postings(con)
        assert set(postings) == set().union(*keys_of.values())
        for key, pks in postings.items():
            assert pks == sorted(set(pks)) and all(key in keys_of[pk] for pk in pks)
            having = [pk for pk, keys in keys_of.items() if key in keys]
            assert pks == having[-PER_KEY_LIMIT:]
        return ids
    finally:
        con.close()


@pytest.mark.slow
def test_writer_killed_with_sigkill_keeps_committed_data_and_a_sound_file(tmp_path: Path, read_postings) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "crash.db"
    proc = _spawn(db, "k", -1)
    done: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            done.append(line.strip())
            if len(done) >= 40:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        # Ids the writer printed after the 40th but before the kill landed are returned adds too.
        rest, _err = proc.communicate(timeout=30)
    done += rest.split()
    assert len(done) >= 40, proc.stderr
    ids = _check_consistent(db, read_postings)
    assert set(done) <= set(ids)  # everything add() returned for is there
    assert len(ids) - len(done) <= 1  # at most the one in flight when killed, and whole
    with StoryIndex(str(db)) as idx:  # the file is usable again
        assert idx.count() == len(ids)
        idx.add("after-crash", "A new article after the crash about Kavendor Lomira.")


@pytest.mark.slow
def test_two_processes_write_one_file(tmp_path: Path, read_postings) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "shared.db"
    StoryIndex(str(db)).close()
    procs = [_spawn(db, p, 25) for p in ("p", "q")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert len(out.split()) == 25
    ids = _check_consistent(db, read_postings)
    assert sorted(ids) == sorted([f"p{i}" for i in range(25)] + [f"q{i}" for i in range(25)])


def test_threads_share_one_index(tmp_path: Path) -> None:
    import random

    rng = random.Random(4)
    texts = [synthetic.report(rng, synthetic.make_event(rng)) for _ in range(4)]
    errors: list[BaseException] = []
    with StoryIndex(str(tmp_path / "t.db")) as idx:
        def work(t: int) -> None:
            try:
                for i in range(10):
                    idx.add(f"t{t}-{i}", texts[t] + f" Update {i}.")
                    idx.query(texts[(t + 1) % 4])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        assert idx.count() == 40
        assert len(idx.stories(limit=100)) == 4  # each thread's copies form one story


def test_close_never_waits_for_a_checkpoint_that_wants_the_write_lock(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The checkpoint thread takes the write lock for every WAL restart; with a restart on
    # every round (every millisecond), close() used to deadlock when it joined the thread
    # while holding that lock. Each close must finish.
    from cleaner.stories import sqlite as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "CHECKPOINT_EVERY_S", 0.001)
    monkeypatch.setattr(sqlite_mod, "CHECKPOINT_RESTART_PAGES", -1)
    for i in range(15):
        idx = StoryIndex(str(tmp_path / "c.db"))
        idx.add(f"a{i}", f"Council meeting number {i} on the Riverside budget with Mayor Okafor.")
        closer = threading.Thread(target=idx.close, daemon=True)
        closer.start()
        closer.join(timeout=10)
        assert not closer.is_alive(), f"close() hung on round {i}"


def test_open_storage_rejects_an_empty_target() -> None:
    with pytest.raises(InvalidArgumentError):
        open_storage("")


# -- PostgreSQL ---------------------------------------------------------------------------------
PG_URL = os.environ.get("CLEANER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except Exception as exc:  # any failure to connect means: skip
        return f"no PostgreSQL server at {PG_URL}: {type(exc).__name__}"
    return None


@pytest.fixture()
def pg_storage():  # type: ignore[no-untyped-def]
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    import secrets

    schema = "cleaner_test_" + secrets.token_hex(4)
    st = open_storage(PG_URL, schema=schema)
    try:
        yield st
    finally:
        st.drop_schema()
        st.close()


@pytest.mark.postgres
def test_postgres_backend_groups_isolates_and_removes(pg_storage, seed_texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    a = StoryIndex(storage=pg_storage, namespace="tenant-a")
    b = StoryIndex(storage=pg_storage, namespace="tenant-b")
    vs = [a.add(name, text, published="2020-02-26") for name, text in seed_texts.items()]
    assert len({v.story_id for v in vs}) == 1 and all(v.duplicate_of is None for v in vs)
    first = next(iter(seed_texts))
    copy = a.add("copy", seed_texts[first] + "\n\nCopyright Example Wire.")
    assert copy.duplicate_of == first
    assert b.get(first) is None and b.count() == 0
    assert a.get_story(vs[0].story_id).members == (*seed_texts, "copy")
    assert a.remove(first) is True and a.get(first) is None
    assert a.get("copy").duplicate_of is None  # type: ignore[union-attr]
    assert a.count() == 3 and a.stories()[0].id == vs[0].story_id


def _fill_shared_key(st, n: int) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """n articles that all have band key 42 (and one key of their own); their pks."""
    from cleaner.stories.signatures import signature

    sig = signature("Kavendor Lomira spoke at the Selbrim council on Tuesday.").to_bytes()
    pks = []
    with st.write() as cur:
        ns = st.namespace_id(cur, "ns", create=True)
        st.create_story(cur, ns, "s_1", 0.0)
        for i in range(n):
            pks.append(st.insert_article(cur, ns, id=f"a{i}", text="t", source=None, published=None,
                                         meta=None, story="s_1", duplicate_of=None, matches=[],
                                         sig=sig, added=0.0, keys=[42, 1000 + i]))
    return ns, pks


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_posting_lists_keep_the_latest_articles_per_key_and_forget_removed_ones(backend: str, request) -> None:  # type: ignore[no-untyped-def]
    from cleaner.stories.storage import MAX_CANDIDATES

    st = open_storage(":memory:") if backend == "sqlite" else request.getfixturevalue("pg_storage")
    try:
        ns, pks = _fill_shared_key(st, PER_KEY_LIMIT + 7)
        with st.read() as cur:
            found = [c[0] for c in st.candidates(cur, ns, [42])]
            assert found == pks[-PER_KEY_LIMIT:][-MAX_CANDIDATES:]
            # An old article is still found through its own key.
            assert [c[0] for c in st.candidates(cur, ns, [1000])] == [pks[0]]
            # Candidates of several keys are their union, in insertion order.
            both = [c[0] for c in st.candidates(cur, ns, [42, 1003])]
            assert both == sorted([pks[3], *pks[-PER_KEY_LIMIT:]])[:MAX_CANDIDATES]
        gone = pks[-3]
        with st.write() as cur:
            st.delete_article(cur, ns, gone, [42, 1000 + len(pks) - 3])
        with st.read() as cur:
            assert [c[0] for c in st.candidates(cur, ns, [42])] == [p for p in pks[-PER_KEY_LIMIT:] if p != gone]
            assert st.candidates(cur, ns, [1000 + len(pks) - 3]) == []
    finally:
        if backend == "sqlite":
            st.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_process_sees_the_copies_another_process_repointed_by_a_remove(
        backend: str, request, tmp_path: Path, seed_texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    # Two storages on one store stand for two processes. When one removes an original, the
    # other must see its copy become the new original.
    if backend == "sqlite":
        first, second = open_storage(tmp_path / "shared.db"), open_storage(tmp_path / "shared.db")
    else:
        first = request.getfixturevalue("pg_storage")
        second = open_storage(first.url, schema=first.schema)
    try:
        a, b = StoryIndex(storage=first), StoryIndex(storage=second)
        text = next(iter(seed_texts.values()))
        a.add("orig", text)
        assert a.add("copy1", text + "\n\nCopyright Example Wire.").duplicate_of == "orig"
        assert b.remove("orig") is True
        later = a.add("copy2", text + "\n\nShare this story.")
        assert later.duplicate_of == "copy1"  # not the removed "orig"
        assert later.story_id == a.get("copy1").story_id  # type: ignore[union-attr]
        # Without a remove, rows another process added are read from the store.
        b.add("copy3", text + "\n\nRead more stories.")
        assert a.add("copy4", text + "\n\nSubscribe today.").duplicate_of == "copy1"
    finally:
        second.close()
        if backend == "sqlite":
            first.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_add_that_rolls_back_leaves_no_trace_for_later_adds(
        backend: str, request, tmp_path: Path, seed_texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    text = next(iter(seed_texts.values()))
    st = open_storage(tmp_path / "idx.db") if backend == "sqlite" else request.getfixturevalue("pg_storage")
    with StoryIndex(storage=st) as idx:
        idx.add("first", text)
        assert idx.add("second", text + "\n\nCopyright Example Wire.").duplicate_of == "first"
        real = idx.storage._insert_bands

        def broken(*args: object) -> None:
            raise RuntimeError("disk gone")

        idx.storage._insert_bands = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            idx.add("lost", text + "\n\nShare this story.")  # inserted, then rolled back
        idx.storage._insert_bands = real  # type: ignore[method-assign]
        assert idx.add("third", text + "\n\nRead more.").duplicate_of == "first"
        assert idx.get("lost") is None
    if backend == "sqlite":
        st.close()
