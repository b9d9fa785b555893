"""The SQLite store under crashes and concurrent writers, and the PostgreSQL backend."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

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


def _check_consistent(db: Path, read_keys: Callable[[sqlite3.Connection], dict[int, list[int]]]
                      ) -> list[str]:
    """integrity_check is ok, every article's story exists and its row holds exactly its
    signature's band keys; returns the ids."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = []
        stored = read_keys(con)
        for pk, aid, sig, story in con.execute("SELECT pk, id, sig, story FROM articles ORDER BY pk"):
            assert stored[pk] == band_keys(Signature.from_bytes(sig))
            assert con.execute("SELECT 1 FROM stories WHERE id = ?", (story,)).fetchone()
            ids.append(aid)
        return ids
    finally:
        con.close()


@pytest.mark.slow
def test_writer_killed_with_sigkill_keeps_committed_data_and_a_sound_file(tmp_path: Path, read_keys) -> None:  # type: ignore[no-untyped-def]
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
        proc.wait(timeout=30)
    # Ids the writer printed after the 40th but before the kill landed are returned adds too.
    # They are read through proc.stdout itself: the loop above may already hold some of them in
    # its read-ahead buffer, which communicate() would skip (it reads the pipe's fd directly).
    rest = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr is not None else ""
    done += rest.split()
    assert len(done) >= 40, err
    ids = _check_consistent(db, read_keys)
    assert set(done) <= set(ids)  # everything add() returned for is there
    assert len(ids) - len(done) <= 1  # at most the one in flight when killed, and whole
    with StoryIndex(str(db)) as idx:  # the file is usable again
        assert idx.count() == len(ids)
        idx.add("after-crash", "A new article after the crash about Kavendor Lomira.")


@pytest.mark.slow
def test_two_processes_write_one_file(tmp_path: Path, read_keys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "shared.db"
    StoryIndex(str(db)).close()
    procs = [_spawn(db, p, 25) for p in ("p", "q")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert len(out.split()) == 25
    ids = _check_consistent(db, read_keys)
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


def _fill_shared_key(st, n: int, start: int = 0) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """n articles (a{start}...) that all have band key 42 and one key of their own (1000 +
    their number); their pks."""
    from cleaner.stories.signatures import signature
    from cleaner.stories.storage import encode_keys

    sig = signature("Kavendor Lomira spoke at the Selbrim council on Tuesday.").to_bytes()
    pks = []
    with st.write() as cur:
        ns = st.namespace_id(cur, "ns", create=True)
        if start == 0:
            st.create_story(cur, ns, "s_1", 0.0)
        for i in range(start, start + n):
            pks.append(st.insert_article(cur, ns, id=f"a{i}", text="t", source=None, published=None,
                                         meta_json=None, story="s_1", duplicate_of=None, matches=[],
                                         sig=sig, added=0.0, keys=encode_keys([42, 1000 + i])))
    return ns, pks


def _mirror_candidates(st, ns: int, keys: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    with st.read() as cur:
        m = st.mirror(ns)
        m.sync(st, cur)
        return m.candidates(keys).pks.tolist()


@pytest.mark.parametrize("merge_every", [2048, 5])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_candidates_are_the_latest_live_articles_per_key(backend: str, merge_every: int, request,
                                                         monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # merge_every=5: most band keys sit in the sorted arrays, the last few in the recent dict.
    from cleaner.stories import mirror
    from cleaner.stories.storage import MAX_CANDIDATES

    monkeypatch.setattr(mirror, "MERGE_EVERY", merge_every)
    st = open_storage(":memory:") if backend == "sqlite" else request.getfixturevalue("pg_storage")
    try:
        ns, pks = _fill_shared_key(st, PER_KEY_LIMIT + 7)
        assert _mirror_candidates(st, ns, [42]) == pks[-PER_KEY_LIMIT:][-MAX_CANDIDATES:]
        # An old article is still found through its own key.
        assert _mirror_candidates(st, ns, [1000]) == [pks[0]]
        # Candidates of several keys are their union, in insertion order.
        both = sorted([pks[3], *pks[-PER_KEY_LIMIT:]])[:MAX_CANDIDATES]
        assert _mirror_candidates(st, ns, [42, 1003]) == both
        # Articles added after the mirror was built are found, the newest first per key.
        more = _fill_shared_key(st, 3, start=len(pks))[1]
        assert _mirror_candidates(st, ns, [42]) == (pks + more)[-PER_KEY_LIMIT:]
        pks += more
        gone = pks[-3]
        with st.write() as cur:
            st.delete_article(cur, ns, gone)
        live = [p for p in pks if p != gone]
        assert _mirror_candidates(st, ns, [42]) == live[-PER_KEY_LIMIT:]
        assert _mirror_candidates(st, ns, [1000 + len(pks) - 3]) == []
        # A storage opened afterwards builds the same mirror from the rows alone.
        if backend == "sqlite":
            assert _mirror_candidates(st, ns, [42, 1003]) == sorted([pks[3], *live[-PER_KEY_LIMIT:]])
    finally:
        if backend == "sqlite":
            st.close()


def test_a_mirror_compacts_once_most_of_its_articles_are_removed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cleaner.stories import mirror

    monkeypatch.setattr(mirror, "MERGE_EVERY", 4)
    with open_storage(":memory:") as st:
        ns, pks = _fill_shared_key(st, 30)
        assert _mirror_candidates(st, ns, [42]) == pks
        with st.write() as cur:
            for pk in pks[:20]:
                st.delete_article(cur, ns, pk)
        assert _mirror_candidates(st, ns, [42]) == pks[20:]
        more = _fill_shared_key(st, 8, start=30)[1]  # merges, and compacts: 20 dead, 18 live
        m = st.mirror(ns)
        assert _mirror_candidates(st, ns, [42]) == pks[20:] + more
        assert m._dead == 0 and len(m._ids) == len(m) == 18
        assert _mirror_candidates(st, ns, [1000 + 25, 1000 + 5, 1000 + 31]) == [pks[25], more[1]]


@pytest.mark.parametrize("window", [0, -5, 2.5, True, "100", None])
def test_a_window_that_is_not_a_whole_number_of_at_least_one_is_refused(window: object) -> None:
    st = open_storage(":memory:")
    try:
        with pytest.raises(InvalidArgumentError, match="window must be a whole number"):
            st.window = window  # type: ignore[assignment]
        st.window = 1
        assert st.window == 1
    finally:
        st.close()


def test_only_the_window_of_latest_articles_are_candidates(tmp_path: Path) -> None:
    # A storage's window bounds what each process holds: older articles stay in the store
    # but are no longer candidates, whether the mirror is built from the store or kept up.
    db = tmp_path / "window.db"
    with open_storage(db) as st:
        st.window = 5
        ns, pks = _fill_shared_key(st, 8)
        assert _mirror_candidates(st, ns, [42]) == pks[-5:]  # built from the latest rows
        more = _fill_shared_key(st, 3, start=8)[1]
        assert _mirror_candidates(st, ns, [42]) == (pks + more)[-5:]  # kept up as rows come
        assert _mirror_candidates(st, ns, [1000 + 5]) == []
        assert len(st.mirror(ns)) == 5
        with st.write() as cur:  # a change to an article outside the window
            st.set_membership(cur, pks[0], "s_1", None)
        assert _mirror_candidates(st, ns, [1000]) == [] and len(st.mirror(ns)) == 5
        with st.read() as cur:
            assert st.count(cur, ns) == 11


def test_a_pk_handed_out_again_after_a_remove_is_seen_as_the_new_article(tmp_path: Path) -> None:
    # SQLite gives the next row max(pk) + 1, so removing the newest article frees its pk. A
    # process whose mirror held the old article must see the new one under the same pk.
    db = tmp_path / "reuse.db"
    with open_storage(db) as one, open_storage(db) as two:
        ns, pks = _fill_shared_key(one, 3)
        assert _mirror_candidates(two, ns, [42]) == pks
        with one.write() as cur:
            one.delete_article(cur, ns, pks[-1])
        again = _fill_shared_key(one, 1, start=7)[1]  # keys 42 and 1007
        assert again == [pks[-1]]
        assert _mirror_candidates(two, ns, [1000 + 2]) == []
        assert _mirror_candidates(two, ns, [1007]) == again
        with two.read() as cur:
            m = two.mirror(ns)
            m.sync(two, cur)
            found = m.candidates([42])
            assert [found.id(i) for i in range(len(found))] == ["a0", "a1", "a7"]


def test_a_schema_3_store_is_upgraded_in_place(tmp_path: Path, seed_texts: dict[str, str], read_keys) -> None:  # type: ignore[no-untyped-def]
    # Build a store, then turn it back into what schema 3 looked like: no keys column, a
    # postings table. Opening it again must restore every article's keys and keep the verdicts.
    db = tmp_path / "old.db"
    texts = list(seed_texts.values())
    with StoryIndex(str(db)) as idx:
        first = idx.add("a", texts[0])
        idx.add("b", texts[1])
    con = sqlite3.connect(db)
    want = read_keys(con)
    con.execute("ALTER TABLE articles DROP COLUMN keys")
    con.execute("DROP TABLE changes")
    con.execute("CREATE TABLE postings (ns INTEGER NOT NULL, key INTEGER NOT NULL, pks BLOB NOT NULL, "
                "PRIMARY KEY (ns, key)) WITHOUT ROWID")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    con.commit()
    con.close()
    with StoryIndex(str(db)) as idx:
        assert idx.add("c", texts[2]).story_id == first.story_id
        assert idx.query(texts[0] + "\n\nCopyright Example Wire.").duplicate_of == "a"
    con = sqlite3.connect(db)
    try:
        assert {pk: k for pk, k in read_keys(con).items() if pk in want} == want
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "postings" not in names and "changes" in names
        assert con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("4",)
    finally:
        con.close()


@contextmanager
def _two_processes(backend: str, request, tmp_path: Path) -> Iterator[tuple[StoryIndex, StoryIndex]]:  # type: ignore[no-untyped-def]
    """Two indexes over one store, each with its own storage (and so its own mirror), standing
    for two processes."""
    if backend == "sqlite":
        first, second = open_storage(tmp_path / "shared.db"), open_storage(tmp_path / "shared.db")
    else:
        first = request.getfixturevalue("pg_storage")
        second = open_storage(first.url, schema=first.schema)
    try:
        yield StoryIndex(storage=first), StoryIndex(storage=second)
    finally:
        second.close()
        if backend == "sqlite":
            first.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_process_sees_the_copies_another_process_repointed_by_a_remove(
        backend: str, request, tmp_path: Path, seed_texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    # When one process removes an original, the other must see its copy become the new original.
    with _two_processes(backend, request, tmp_path) as (a, b):
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


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_change_log_is_pruned_and_a_mirror_that_missed_pruned_changes_rebuilds(
        backend: str, request, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The log keeps 3 rows (pruned once 5 behind). One process (a) holds a mirror of 8
    # articles; another (b) removes them all, so the changes a has not read are pruned before
    # it reads them. a must still not take a removed article as the original of a copy.
    from cleaner.stories import storage as storage_mod

    monkeypatch.setattr(storage_mod, "CHANGES_KEPT", 3)
    monkeypatch.setattr(storage_mod, "CHANGES_PRUNE_EVERY", 2)
    with _two_processes(backend, request, tmp_path) as (a, b):
        rng = random.Random(3)
        texts = [synthetic.report(rng, synthetic.make_event(rng)) for _ in range(8)]
        for i, text in enumerate(texts):
            a.add(f"r{i}", text)
        for i in range(8):
            assert b.remove(f"r{i}") is True
        with a.storage.read() as cur:
            logged = a.storage._exec(cur, "SELECT seq, pk FROM changes ORDER BY seq").fetchall()
        assert len(logged) <= 3 + 2 + 1  # the kept rows, those since the last prune, a marker
        assert any(pk < 0 for _seq, pk in logged)
        copy = a.add("copy", texts[0] + "\n\nCopyright Example Wire.")
        assert copy.duplicate_of is None and copy.matches == ()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_add_that_rolls_back_leaves_no_trace_for_later_adds(
        backend: str, request, tmp_path: Path, seed_texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    text = next(iter(seed_texts.values()))
    st = open_storage(tmp_path / "idx.db") if backend == "sqlite" else request.getfixturevalue("pg_storage")
    with StoryIndex(storage=st) as idx:
        idx.add("first", text)
        assert idx.add("second", text + "\n\nCopyright Example Wire.").duplicate_of == "first"
        real = idx.storage._insert_article_row

        def broken(*args: object) -> int:
            real(*args)  # the row is written, then the transaction fails
            raise RuntimeError("disk gone")

        idx.storage._insert_article_row = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            idx.add("lost", text + "\n\nShare this story.")  # inserted, then rolled back
        idx.storage._insert_article_row = real  # type: ignore[method-assign]
        assert idx.add("third", text + "\n\nRead more.").duplicate_of == "first"
        assert idx.get("lost") is None
    if backend == "sqlite":
        st.close()


@settings(max_examples=80, deadline=None)
@given(old=hst.lists(hst.integers(-5, 5), max_size=40), new=hst.lists(hst.integers(-5, 5), max_size=20),
       dead=hst.sets(hst.integers(0, 59)), query=hst.lists(hst.integers(-6, 6), max_size=8),
       limit=hst.integers(1, 4))
def test_posting_kernels_equal_their_definition(old, new, dead, query, limit) -> None:  # type: ignore[no-untyped-def]
    # merge_postings: the old entries (slots 0..) and the new ones (later slots), sorted by
    # key, the older first within a key. posting_tails: per query key, its newest `limit`
    # live slots.
    import numpy as np

    from cleaner.stories import kernels

    old_k = np.array(sorted(old), np.int64)
    old_s = np.arange(len(old), dtype=np.int32)
    order = sorted(range(len(new)), key=lambda i: new[i])
    new_k = np.array([new[i] for i in order], np.int64)
    new_s = np.array([len(old) + i for i in order], np.int32)
    keys, slots = kernels.merge_postings(old_k, old_s, new_k, new_s)
    want = sorted(zip(old_k.tolist() + new_k.tolist(), old_s.tolist() + new_s.tolist()))
    assert list(zip(keys.tolist(), slots.tolist())) == want
    alive = np.array([i not in dead for i in range(60)])
    q = np.array(sorted(set(query)), np.int64)
    got = kernels.posting_tails(keys, slots, alive, q, np.full(q.shape[0], limit, np.int64)).tolist()
    expect = []
    for k in q.tolist():
        expect += [s for kk, s in reversed(want) if kk == k and alive[s]][:limit]
    assert got == expect


@settings(max_examples=150, deadline=None)
@given(found=hst.lists(hst.integers(0, 29), max_size=80),
       stories=hst.lists(hst.integers(0, 6), min_size=30, max_size=30),
       min_shared=hst.integers(1, 3), limit=hst.integers(1, 12))
def test_choose_candidates_equals_its_definition(found, stories, min_shared, limit) -> None:  # type: ignore[no-untyped-def]
    # Slots found at least min_shared times; the `limit` found most often, ties to the newest
    # (highest) slot; in slot order; their stories numbered 0.. in the order of the mirror's
    # labels.
    import collections

    import numpy as np

    from cleaner.stories import kernels

    label = np.array(stories, np.int64) * 7 + 3  # the mirror's labels are any integers
    shared = collections.Counter(found)
    ok = [s for s in shared if shared[s] >= min_shared]
    want = sorted(sorted(ok, key=lambda s: (-shared[s], -s))[:limit])
    got, labels, n_labels = kernels.choose_candidates(np.array(found, np.int32), label,
                                                      min_shared, limit)
    assert got.tolist() == want
    distinct = sorted({stories[s] for s in want})
    assert labels.tolist() == [distinct.index(stories[s]) for s in want]
    assert n_labels == len(distinct)


@settings(max_examples=80, deadline=None)
@given(adds=hst.lists(hst.lists(hst.integers(-4, 4), min_size=1, max_size=6), max_size=40),
       dead=hst.sets(hst.integers(0, 39)), query=hst.lists(hst.integers(-5, 5), max_size=8),
       limit=hst.integers(1, 5))
def test_recent_keys_give_each_keys_newest_live_slots(adds, dead, query, limit) -> None:  # type: ignore[no-untyped-def]
    # Slot i files the keys adds[i], in a table made for 2 entries at first, so that the test
    # also grows it (a new table, the chains filed again).
    import numpy as np

    from cleaner.stories import mirror

    recent = mirror._RecentKeys(2)
    for slot, keys in enumerate(adds):
        recent.add(np.array(keys, np.int64), slot)
    alive = np.array([i not in dead for i in range(40)])
    q = np.array(sorted(set(query)), np.int64)
    found, need = recent.tails(alive, q, limit)
    expect, expect_need = [], []
    for k in q.tolist():
        newest = [s for s in reversed(range(len(adds))) for kk in reversed(adds[s])
                  if kk == k and alive[s]][:limit]
        expect += newest
        expect_need.append(limit - len(newest))
    assert found.tolist() == expect
    assert need.tolist() == expect_need
    filed = [(k, s) for s, keys in enumerate(adds) for k in keys]
    keys, slots = recent.entries()
    assert list(zip(keys.tolist(), slots.tolist())) == filed
    recent.clear()
    assert recent.tails(alive, q, limit)[0].tolist() == []
