"""StoryIndex behaviour: verdicts, stories, no chaining, removal, namespaces, persistence."""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path

import pytest

from cleaner.errors import ArticleExistsError, InvalidArgumentError, NotFoundError, StorageError
from cleaner.stories import StoryIndex, open_storage, rule, synthetic
from cleaner.stories import signatures as sg
from cleaner.stories.signatures import band_keys, signature


def test_seeds_form_one_story_and_none_is_a_duplicate(seed_texts: dict[str, str]) -> None:
    with StoryIndex(":memory:") as idx:
        verdicts = [idx.add(name, text) for name, text in seed_texts.items()]
    assert len({v.story_id for v in verdicts}) == 1
    assert all(v.duplicate_of is None for v in verdicts)
    assert all(m.kind == "same_story" for v in verdicts for m in v.matches)


def test_reprint_with_edited_head_and_tail_is_flagged_duplicate(seed_texts: dict[str, str]) -> None:
    name, text = next(iter(seed_texts.items()))
    paras = [p for p in text.split("\n\n") if p.strip()]
    copy = "Advertisement\n\n" + "\n\n".join(paras[2:-1]) + "\n\nCopyright Example Wire 2024."
    with StoryIndex(":memory:") as idx:
        first = idx.add(name, text)
        v = idx.add("copy", copy)
        third = idx.add("copy-of-copy", copy + "\n\nMore at example.org")
    assert v.duplicate_of == name and v.story_id == first.story_id
    assert v.matches[0].kind == "duplicate" and v.matches[0].id == name
    assert third.duplicate_of == name  # the first of the copies, not the copy it resembles most


def test_independent_reports_join_and_different_events_of_one_kind_stay_apart() -> None:
    rng = random.Random(11)
    events = [synthetic.make_event(rng, "shooting") for _ in range(4)]
    with StoryIndex(":memory:") as idx:
        got: dict[int, set[str]] = {}
        for round_ in range(3):
            for e, event in enumerate(events):
                v = idx.add(f"e{e}-r{round_}", synthetic.report(rng, event))
                assert v.duplicate_of is None
                got.setdefault(e, set()).add(v.story_id)
    assert all(len(s) == 1 for s in got.values())
    assert len(set.union(*got.values())) == len(events)


def test_rule_average_link_does_not_chain() -> None:
    # B resembles A and C; A and C are unrelated. Single link would put all three together.
    j = rule.STORY_JOIN
    pairs = {("A", "B"): rule.PairScore(0.0, 0.0, j * 1.3), ("B", "C"): rule.PairScore(0.0, 0.0, j * 1.3),
             ("A", "C"): rule.PairScore(0.0, 0.0, 0.0)}
    out = rule.replay(["A", "B", "C"], pairs)
    assert out["A"][0] == out["B"][0] == "A"
    assert out["C"][0] == "C"


def _bridge(rng: random.Random, a: synthetic.Event, c: synthetic.Event) -> str:
    """A text sharing a little with event a and a little with event c (one surname each).
    Average link keeps C out as long as C's average over {A, B} stays under STORY_JOIN, i.e.
    for a bridge weaker than 2 * STORY_JOIN; a bridge naming whole people of both events
    (a pair score near 0.25) would pass that."""
    own = synthetic.make_event(rng)
    text = synthetic.report(rng, own, sentences=12)
    first, second = a.people[0].split()[-1], c.people[0].split()[-1]
    return text + f"\n\nEarlier, {first} was seen there. Later {second} spoke."


def test_index_does_not_chain_through_a_bridging_article() -> None:
    for seed in range(40):  # find a bridge that matches both sides, deterministically
        rng = random.Random(seed)
        ea, ec = synthetic.make_event(rng), synthetic.make_event(rng)
        ta, tc = synthetic.report(rng, ea), synthetic.report(rng, ec)
        tb = _bridge(rng, ea, ec)
        sa, sb, sc = signature(ta), signature(tb), signature(tc)
        ab, bc, ac = (rule.score_pair(x, y).story for x, y in ((sa, sb), (sb, sc), (sa, sc)))
        if ab >= rule.STORY_JOIN and bc >= rule.STORY_JOIN and (ac + bc) / 2 < rule.STORY_JOIN:
            break
    else:
        pytest.fail("no bridging text found")
    with StoryIndex(":memory:") as idx:
        va = idx.add("A", ta)
        vb = idx.add("B", tb)
        vc = idx.add("C", tc)
        assert vb.story_id == va.story_id  # B~A
        assert any(m.id == "B" for m in vc.matches)  # C~B is seen ...
        assert vc.story_id != va.story_id  # ... but does not drag C into A's story


def test_query_gives_the_verdict_without_inserting(seed_texts: dict[str, str]) -> None:
    (a, ta), (b, tb) = list(seed_texts.items())[:2]
    with StoryIndex(":memory:") as idx:
        va = idx.add(a, ta)
        q = idx.query(tb)
        assert q.id == "" and q.story_id == va.story_id and q.duplicate_of is None
        assert idx.count() == 1
        assert idx.query("Completely unrelated words about gardening and tomatoes.").story_id == ""


def test_get_returns_the_stored_article_with_meta(seed_texts: dict[str, str]) -> None:
    text = next(iter(seed_texts.values()))
    with StoryIndex(":memory:") as idx:
        v = idx.add("a", text, source="example.com", published="2024-05-01T10:00:00Z",
                    meta={"title": "T", "removed": [1, 2]})
        got = idx.get("a")
        assert idx.get("missing") is None
    assert got is not None
    assert (got.text, got.source, got.published, got.meta) == (text, "example.com", "2024-05-01T10:00:00Z",
                                                              {"title": "T", "removed": [1, 2]})
    assert got.story_id == v.story_id and got.duplicate_of is None


def test_story_ids_are_random_not_sequential(seed_texts: dict[str, str]) -> None:
    rng = random.Random(5)
    with StoryIndex(":memory:") as idx:
        ids = [idx.add(f"x{i}", synthetic.report(rng, synthetic.make_event(rng))).story_id for i in range(5)]
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"s_[0-9a-f]{16}", s) for s in ids)


def test_stories_lists_most_recent_first_and_pages() -> None:
    rng = random.Random(2)
    with StoryIndex(":memory:") as idx:
        for i in range(4):
            idx.add(f"x{i}", synthetic.report(rng, synthetic.make_event(rng)))
        newest = idx.get("x3")
        page = idx.stories(limit=2)
        assert newest is not None and page[0].id == newest.story_id and page[0].members == ("x3",)
        assert len(idx.stories(limit=2, offset=2)) == 2 and idx.stories(offset=4) == []
        with pytest.raises(InvalidArgumentError):
            idx.stories(limit=0)


def test_readding_an_id_raises_article_exists(seed_texts: dict[str, str]) -> None:
    text = next(iter(seed_texts.values()))
    with StoryIndex(":memory:") as idx:
        idx.add("a", text)
        with pytest.raises(ArticleExistsError):
            idx.add("a", text)
        assert idx.count() == 1


@pytest.mark.parametrize("id_, text, kwargs", [
    ("", "some text", {}), ("a", "", {}), ("a", "   ", {}), (None, "x", {}), ("a", 5, {}),
    ("a", "text", {"published": "yesterday"}), ("a", "text", {"meta": ["not", "a", "dict"]}),
    ("a", "text", {"meta": {"x": object()}}), ("a", "text", {"source": 3}),
])
def test_bad_input_raises_invalid_argument(id_: object, text: object, kwargs: dict) -> None:
    with StoryIndex(":memory:") as idx:
        with pytest.raises(InvalidArgumentError):
            idx.add(id_, text, **kwargs)  # type: ignore[arg-type]
        assert idx.count() == 0


def test_unknown_story_is_not_found() -> None:
    with StoryIndex(":memory:") as idx, pytest.raises(NotFoundError):
        idx.get_story("s_0000000000000000")


def test_remove_deletes_text_signature_and_band_keys(tmp_path: Path, seed_texts: dict[str, str],
                                                     read_keys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "idx.db"
    (a, ta), (b, tb) = list(seed_texts.items())[:2]
    with StoryIndex(str(db)) as idx:
        idx.add(a, ta)
        idx.add(b, tb)
        keys_b = set(band_keys(signature(tb)))
        assert idx.remove(a) is True
        assert idx.remove(a) is False
        assert idx.get(a) is None and idx.count() == 1
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM articles WHERE id = ?", (a,)).fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM texts WHERE text = ?", (ta,)).fetchone()[0] == 0
        (pk_b,), = con.execute("SELECT pk FROM articles").fetchall()
        assert con.execute("SELECT pk FROM texts").fetchall() == [(pk_b,)]
        assert {pk: set(keys) for pk, keys in read_keys(con).items()} == {pk_b: keys_b}
    finally:
        con.close()


def test_remove_reclusters_the_story_and_repoints_copies(seed_texts: dict[str, str]) -> None:
    name, text = next(iter(seed_texts.items()))
    with StoryIndex(":memory:") as idx:
        v0 = idx.add("orig", text)
        idx.add("copy1", text + "\n\nCopyright Example Wire.")
        idx.add("copy2", text + "\n\nShare this story.")
        assert idx.get("copy2").duplicate_of == "orig"  # type: ignore[union-attr]
        idx.remove("orig")
        c1, c2 = idx.get("copy1"), idx.get("copy2")
        assert c1 is not None and c2 is not None
        assert c1.duplicate_of is None and c2.duplicate_of == "copy1"
        assert c1.story_id == v0.story_id == c2.story_id  # the story id stays stable
        idx.remove("copy1")
        idx.remove("copy2")
        with pytest.raises(NotFoundError):
            idx.get_story(v0.story_id)


def test_namespaces_are_isolated(seed_texts: dict[str, str]) -> None:
    text = next(iter(seed_texts.values()))
    with open_storage(":memory:") as st:
        a = StoryIndex(storage=st, namespace="tenant-a")
        b = StoryIndex(storage=st, namespace="tenant-b")
        va = a.add("x", text)
        assert b.get("x") is None and b.stories() == [] and b.query(text).matches == ()
        vb = b.add("x", text)
        assert vb.duplicate_of is None and vb.matches == ()
        assert va.story_id != vb.story_id
        with pytest.raises(NotFoundError):
            b.get_story(va.story_id)
        assert b.remove("y") is False and a.count() == 1 and b.count() == 1
        a.close()  # a shared storage stays open until its owner closes it
        assert b.count() == 1


def _sql(db: Path, statement: str, rows: list[tuple[str, str]] | None = None) -> list[tuple]:
    """Run one statement on a SQLite file outside the index (with ``rows``, once per row)
    and return what it selects."""
    con = sqlite3.connect(db)
    try:
        cur = con.executemany(statement, rows) if rows is not None else con.execute(statement)
        found = cur.fetchall()
        con.commit()
        return found
    finally:
        con.close()


def test_store_built_with_other_signature_parameters_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    StoryIndex(str(db)).close()
    _sql(db, "UPDATE meta SET value = '64' WHERE key = 'dup_num_perm'")
    with pytest.raises(StorageError, match="dup_num_perm"):
        StoryIndex(str(db))


def test_store_of_an_older_schema_is_refused_untouched(tmp_path: Path) -> None:
    from cleaner.stories import signatures as sg

    db = tmp_path / "v1.db"
    _sql(db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    _sql(db, "INSERT INTO meta VALUES (?, ?)", [*sg.PARAMS.items(), ("schema", "1")])
    _sql(db, "CREATE TABLE articles (pk INTEGER PRIMARY KEY, ns INTEGER, id TEXT, text TEXT)")
    with pytest.raises(StorageError, match="schema"):
        StoryIndex(str(db))
    tables = {r[0] for r in _sql(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"meta", "articles"}


def test_a_database_with_foreign_tables_of_our_names_is_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    _sql(db, "CREATE TABLE articles (title TEXT)")
    with pytest.raises(StorageError, match="not the index's"):
        StoryIndex(str(db))
    assert _sql(db, "PRAGMA journal_mode")[0][0] == "delete"
    assert [r[0] for r in _sql(db, "SELECT name FROM sqlite_master")] == ["articles"]


def test_closing_the_index_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    import threading

    before = set(threading.enumerate())  # other tests' open stores may have their own
    with StoryIndex(str(tmp_path / "c.db")) as idx:
        idx.add("a", "Kavendor Lomira spoke in Brisel on Tuesday about the 2,300 jobs.")
        mine = [t for t in threading.enumerate() if t.name == "cleaner-sqlite-checkpoint" and t not in before]
        assert len(mine) == 1
    assert not mine[0].is_alive()


def test_index_persists_across_reopen(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    db = str(tmp_path / "p.db")
    items = list(seed_texts.items())
    with StoryIndex(db) as idx:
        v = idx.add(*items[0])
    with StoryIndex(db) as idx:
        assert idx.count() == 1
        assert idx.add(*items[1]).story_id == v.story_id
        assert idx.get_story(v.story_id).members == (items[0][0], items[1][0])


def test_odd_unicode_gets_a_clear_answer_not_a_crash() -> None:
    text = "The plot of 50 m² in Selbrim was sold to Kavendor Lomira for 120,000 euros."
    with StoryIndex(":memory:") as idx:
        assert idx.add("sq", text).duplicate_of is None  # "²" is a digit but not a number
        lone = text + " \ud800"
        assert sg.signature(lone).n_shingles  # a signature is made of any str
        for call in (lambda: idx.add("lone", lone), lambda: idx.query(lone)):
            with pytest.raises(InvalidArgumentError, match="surrogate"):
                call()
        with pytest.raises(InvalidArgumentError, match="surrogate"):
            idx.add("id-\udc80", text)
        with pytest.raises(InvalidArgumentError, match="surrogate"):
            idx.add("src", text + " again", source="\ud800.example")
        idx.add("meta", "Another report about Selbrim harbour fees.", meta={"note": "x\ud800"})
        assert idx.get("meta").meta == {"note": "x\ud800"}  # type: ignore[union-attr]
        assert idx.count() == 2


def test_index_arguments_of_the_wrong_kind_are_invalid_argument_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "The council approved the Riverside budget on Tuesday after Mayor Okafor spoke."
    with StoryIndex(tmp_path / "p.db") as idx:  # a Path is a path
        idx.add("a", text)
        with pytest.raises(InvalidArgumentError):
            idx.stories(5, 2**63)  # past SQLite's integers
        for meta in ({"x": float("nan")}, {1: "a"}, {"t": (1, 2)}):
            with pytest.raises(InvalidArgumentError):
                idx.add("m", text, meta=meta)
        assert idx.get("m") is None
    with pytest.raises(InvalidArgumentError):
        StoryIndex(storage="cleaner.db")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        StoryIndex(str(tmp_path / "a\x00b.db"))


def test_copies_in_scripts_written_without_spaces_are_duplicates() -> None:
    ja = ("東京都議会は火曜日、新年度の予算案を可決した。当局者によると、この計画は道路の補修や公園、"
          "二つの新しい図書館の建設に充てられ、最初の工事は来年の春に完成する見込みだという。")
    zh = ("市议会周二投票批准了新一年的预算。官员表示该计划将资助道路维修、公园和两座新图书馆，"
          "预计将在明年春季完成首批工程。反对者认为这笔钱应该用于青少年项目。")
    with StoryIndex(":memory:") as idx:
        for name, text in (("ja", ja), ("zh", zh)):
            idx.add(f"{name}1", text)
            assert idx.add(f"{name}2", text).duplicate_of == f"{name}1"
            assert idx.add(f"{name}3", text[:-8]).duplicate_of == f"{name}1"  # tail cut
        assert idx.get_story(idx.get("ja1").story_id).members == ("ja1", "ja2", "ja3")  # type: ignore[union-attr]


def _feed_items(n: int, seed: int) -> list[dict[str, object]]:
    feed = synthetic.NewsFeed(seed)
    return [{"id": it.id, "text": it.text, "source": it.source, "published": it.published}
            for it in feed.take(n)]


def _shape(verdicts) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    # Story ids are random: compare which earlier article each one's story began with.
    first: dict[str, str] = {}
    out = []
    for v in verdicts:
        first.setdefault(v.story_id, v.id)
        out.append((v.id, first[v.story_id], v.duplicate_of,
                    tuple((m.id, m.kind, round(m.similarity, 12)) for m in v.matches)))
    return out


def test_add_many_gives_the_verdicts_of_consecutive_adds(tmp_path: Path) -> None:
    items = _feed_items(300, 5)
    with StoryIndex(":memory:") as one:
        singly = [one.add(**it) for it in items]  # type: ignore[arg-type]
    with StoryIndex(str(tmp_path / "many.db")) as many:
        batched = many.add_many(items[:7]) + many.add_many(items[7:150]) + many.add_many(items[150:])
        assert many.count() == 300 and many.add_many([]) == []
    assert any(v.duplicate_of for v in singly) and any(len(v.matches) for v in singly)
    assert _shape(batched) == _shape(singly)
    # The same holds for another process opening the file afterwards.
    with StoryIndex(str(tmp_path / "many.db")) as again:
        probe = items[10]
        assert again.query(str(probe["text"])).story_id == batched[10].story_id


def test_add_many_is_all_or_nothing(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    texts = list(seed_texts.values())
    with StoryIndex(str(tmp_path / "idx.db")) as idx:
        idx.add("old", texts[0])
        bad_batches = [
            ([{"id": "a", "text": texts[1]}, {"id": "b", "text": texts[2]}, {"id": "c", "text": " "}],
             InvalidArgumentError, "article 2"),
            ([{"id": "a", "text": texts[1]}, {"id": "a", "text": texts[2]}], ArticleExistsError, "twice"),
            ([{"id": "a", "text": texts[1]}, {"id": "old", "text": texts[2]}], ArticleExistsError, "'old'"),
            ([{"id": "a", "text": texts[1], "colour": "red"}], InvalidArgumentError, "article 0"),
            ([{"id": "a", "text": texts[1], "meta": {1: "x"}}], InvalidArgumentError, "meta"),
            (["not a dict"], InvalidArgumentError, "article 0 must be a dict"),
            ({"id": "a", "text": texts[1]}, InvalidArgumentError, "list of dicts"),
        ]
        for batch, error, message in bad_batches:
            with pytest.raises(error, match=message):
                idx.add_many(batch)  # type: ignore[arg-type]
            assert idx.count() == 1
        # A failure while writing (the third row) rolls the first two back, and the next adds
        # do not see them as candidates.
        real = idx.storage._insert_article_row
        calls = []

        def flaky(*args: object) -> int:
            calls.append(1)
            if len(calls) == 3:
                raise sqlite3.OperationalError("disk I/O error")
            return real(*args)

        idx.storage._insert_article_row = flaky  # type: ignore[method-assign]
        copy = texts[1] + "\n\nCopyright Example Wire."
        with pytest.raises(StorageError, match="disk I/O error"):
            idx.add_many([{"id": "a", "text": texts[1]}, {"id": "b", "text": texts[2]},
                          {"id": "c", "text": copy}])
        idx.storage._insert_article_row = real  # type: ignore[method-assign]
        assert idx.count() == 1 and idx.get("a") is None
        v = idx.add("a-copy", copy)
        assert v.duplicate_of is None and all(m.id == "old" for m in v.matches)
        assert [w.duplicate_of for w in idx.add_many([{"id": "a", "text": texts[1]}])] == ["a-copy"]
