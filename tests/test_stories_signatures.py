"""Signatures (parameters, datasketch compatibility, bytes) and the pure clustering rule."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.errors import InvalidArgumentError
from cleaner.stories import StoryIndex, rule, synthetic
from cleaner.stories import signatures as sg
from cleaner.stories.salient import salient_terms, word_weight


def test_sketch_equals_datasketch_minhash_with_the_pinned_scheme(seed_texts: dict[str, str]) -> None:
    text = next(iter(seed_texts.values()))
    sig = sg.signature(text)
    m = MinHash(num_perm=sg.DUP_NUM_PERM, seed=sg.SEED, scheme=sg.HASH_SCHEME, hashfunc=lambda x: x)
    m.update_batch([int(h) for h in sg.shingle_hashes(text)])
    assert np.array_equal(m.hashvalues, sig.dup)
    lean = sig.to_datasketch("dup")
    assert lean.jaccard(m) == 1.0


def test_signature_bytes_round_trip_and_refuse_other_parameters(seed_texts: dict[str, str]) -> None:
    sig = sg.signature(next(iter(seed_texts.values())), "example.com")
    data = sig.to_bytes()
    back = sg.Signature.from_bytes(data)
    assert np.array_equal(back.dup, sig.dup) and np.array_equal(back.terms, sig.terms)
    assert np.array_equal(back.term_weights, sig.term_weights) and back.n_shingles == sig.n_shingles
    assert sg.band_keys(back) == sg.band_keys(sig)
    assert sg.strong_terms(sig) >= sg.DUP_KEYS_BELOW_STRONG  # a news article: salient bands only
    assert len(sg.band_keys(sig)) == sg.SALIENT_BANDS
    with pytest.raises(InvalidArgumentError):
        sg.Signature.from_bytes(data[:-3])
    with pytest.raises(InvalidArgumentError, match="rebuild"):
        sg.Signature.from_bytes(bytes([sg.FORMAT_VERSION + 1]) + data[1:])


def test_salient_terms_keep_names_and_drop_common_words_and_the_outlet() -> None:
    text = ("Police said Kavendor Lomira, 34, was shot at 1500 Main Street. Police later "
            "arrested a suspect. The WKBN reporter said the police didn't comment.")
    terms = salient_terms(text, source="wkbn.com")
    assert {"kavendor", "lomira", "1500"} <= set(terms)
    assert "police" not in terms and "wkbn" not in terms and "didn't" not in terms
    assert terms["kavendor"] > terms.get("street", 0.0)
    assert word_weight("the") < word_weight("county") < word_weight("kavendor") == 1.0


def test_score_pair_is_symmetric_and_separates_copies_coverage_and_other_events() -> None:
    rng = random.Random(1)
    e1, e2 = synthetic.make_event(rng), synthetic.make_event(rng)
    a, b, c = synthetic.report(rng, e1), synthetic.report(rng, e1), synthetic.report(rng, e2)
    copy = synthetic.reprint(rng, a)
    sa, sb, sc, scopy = (sg.signature(t) for t in (a, b, c, copy))
    assert rule.score_pair(sa, scopy).is_duplicate
    coverage = rule.score_pair(sa, sb)
    assert not coverage.is_duplicate and coverage.story >= rule.STORY_JOIN
    assert rule.score_pair(sa, sc).story < rule.PAIR_FLOOR
    assert rule.score_pair(sa, sb, 1.0, 5.0) == rule.score_pair(sb, sa, 5.0, 1.0)
    far = rule.score_pair(sa, sb, 0.0, 400.0)
    assert far.story == pytest.approx(coverage.story * rule.TIME_FLOOR)


def _terms_sig(terms: dict[int, float]) -> sg.Signature:
    """A signature holding only these salient terms (term hash -> weight), no shingles."""
    keys = sorted(terms)
    weights = np.array([round(terms[k] * sg.WEIGHT_SCALE) for k in keys], np.uint8)
    empty = np.full(sg.DUP_NUM_PERM, 0xFFFFFFFF, np.uint32)
    return sg.Signature(dup=empty, salient=empty[:sg.SALIENT_NUM_PERM], n_shingles=0,
                        terms=np.array(keys, np.uint32), term_weights=weights)


def test_one_shared_rare_name_alone_never_makes_one_story() -> None:
    city, a_only, b_only = 1, range(10, 13), range(20, 23)
    a = _terms_sig({city: 1.0, **{t: 1.0 for t in a_only}})
    b = _terms_sig({city: 1.0, **{t: 1.0 for t in b_only}})
    assert rule.score_pair(a, b).story == 0.0  # 1 of 4 rare terms would otherwise score 0.25
    c = _terms_sig({city: 1.0, 10: 0.2, **{t: 1.0 for t in b_only}})  # and a little more
    assert rule.score_pair(a, c).story > rule.STORY_JOIN


def test_a_term_held_by_candidates_of_several_stories_weighs_less() -> None:
    # a and b: one event (victim 10, 11) in a city (1) whose police chief (2) is in every story.
    a = _terms_sig({1: 1.0, 2: 1.0, 10: 1.0, 11: 1.0, 30: 0.5})
    b = _terms_sig({1: 1.0, 2: 1.0, 10: 1.0, 11: 1.0, 31: 0.5})
    others = [_terms_sig({1: 1.0, 2: 1.0, 40 + 3 * i: 1.0, 41 + 3 * i: 1.0}) for i in range(4)]
    batch = sg.SignatureBatch.from_signatures([b, *others])
    factors = rule.spread_factors(a, batch, [0, 1, 2, 3, 4])
    city, chief, victim = (int(np.searchsorted(a.terms, t)) for t in (1, 2, 10))
    held_by_all = 1 / (1 + rule.SPREAD_WEIGHT * np.log(1 + 5 - rule.SPREAD_FREE))  # 5 stories
    assert factors[victim] == 1.0 and factors[city] == factors[chief] == pytest.approx(held_by_all)
    alone = rule.score_batch(a, batch).story
    spread = rule.score_batch(a, batch, stories=[0, 1, 2, 3, 4]).story
    assert (spread[1:] < alone[1:]).all()  # the other stories score less, and the event
    assert spread[0] / spread[1:].max() > 1.3 * alone[0] / alone[1:].max()  # stands out more
    # Candidates of one story (the event's own coverage) discount nothing.
    same = rule.score_batch(a, batch, stories=[7] * 5).story
    assert np.array_equal(same, alone)
    with pytest.raises(InvalidArgumentError, match="one label per candidate"):
        rule.score_batch(a, batch, stories=[0, 1])


_TERM_SETS = st.dictionaries(st.integers(1, 40), st.sampled_from([0.05, 0.2, 0.5, 1.0]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(a=_TERM_SETS, others=st.lists(_TERM_SETS, min_size=1, max_size=8), data=st.data())
def test_spread_scores_stay_in_range_and_depend_only_on_which_candidates_share_a_story(a, others, data) -> None:
    sa, batch = _terms_sig(a), sg.SignatureBatch.from_signatures([_terms_sig(o) for o in others])
    labels = data.draw(st.lists(st.integers(0, 3), min_size=len(others), max_size=len(others)))
    got = rule.score_batch(sa, batch, stories=labels).story
    assert ((got >= 0) & (got <= 1 + 1e-9)).all()
    renamed = [f"story-{9 - x}" for x in labels]  # any labels, same grouping: same scores
    assert np.allclose(rule.score_batch(sa, batch, stories=renamed).story, got)
    factors = rule.spread_factors(sa, batch, labels)
    assert ((factors > 0) & (factors <= 1)).all()


def _overlaps_by_definition(a: sg.Signature, others: list[sg.Signature], labels: list[int]) -> list[float]:
    # The salient score as the rule states it, term by term in plain Python.
    import math

    where = {int(t): p for p, t in enumerate(a.terms.tolist())}
    held: list[set[int]] = [set() for _ in where]
    for o, label in zip(others, labels):
        for t in o.terms.tolist():
            if t in where:
                held[where[t]].add(label)
    factor = [1.0 / (1.0 + rule.SPREAD_WEIGHT * math.log1p(max(0, len(h) - rule.SPREAD_FREE)))
              for h in held]
    total_a = sum(float(w) * f for w, f in zip(a.term_weights.tolist(), factor))
    out = []
    for o in others:
        enough = shared = total = 0.0
        for t, w in zip(o.terms.tolist(), o.term_weights.tolist()):
            if t in where:
                p = where[t]
                common = min(float(w), float(a.term_weights[p]))
                enough, shared, total = enough + common, shared + common * factor[p], total + w * factor[p]
            else:
                total += w
        small, large = min(total, total_a), max(total, total_a)
        ok = enough > rule.MIN_SHARED_WEIGHT * sg.WEIGHT_SCALE and small > 0
        out.append(shared / (small ** (1 - rule.OVERLAP_MIX) * large ** rule.OVERLAP_MIX) if ok else 0.0)
    return out


_WIDE_TERM_SETS = st.dictionaries(st.integers(0, 2**32 - 1) | st.integers(1, 60),
                                  st.sampled_from([0.05, 0.2, 0.5, 1.0]), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(a=_WIDE_TERM_SETS, others=st.lists(_WIDE_TERM_SETS, min_size=1, max_size=10), data=st.data())
def test_compiled_overlaps_equal_the_definition_in_any_layout(a, others, data) -> None:  # type: ignore[no-untyped-def]
    # The kernel looks a's terms up in a hash table and reads the others where they lie
    # (the in-memory index hands it rows of larger arrays): neither may change a score.
    sa, sigs = _terms_sig(a), [_terms_sig(o) for o in others]
    labels = data.draw(st.lists(st.integers(0, 3), min_size=len(others), max_size=len(others)))
    want = _overlaps_by_definition(sa, sigs, labels)
    plain = sg.SignatureBatch.from_signatures(sigs)
    assert rule._overlaps(sa, plain, labels)[0].tolist() == pytest.approx(want, rel=1e-12, abs=1e-15)
    # The same signatures scattered in bigger arrays, in another order, with gaps between.
    order = data.draw(st.permutations(range(len(sigs))))
    terms, weights, starts, dup = [np.zeros(3, np.uint32)], [np.zeros(3, np.uint8)], {}, {}
    at = 3
    for i in order:
        starts[i] = at
        terms += [sigs[i].terms, np.zeros(2, np.uint32)]
        weights += [sigs[i].term_weights, np.zeros(2, np.uint8)]
        at += sigs[i].terms.shape[0] + 2
    rows = {i: r for r, i in enumerate(order)}
    arena = sg.SignatureBatch(np.stack([sigs[i].dup for i in order]), plain.n_shingles,
                              np.concatenate(terms), np.concatenate(weights), plain.lens,
                              np.array([starts[i] for i in range(len(sigs))], np.int64),
                              np.array([rows[i] for i in range(len(sigs))], np.int64))
    assert rule._overlaps(sa, arena, labels)[0].tolist() == rule._overlaps(sa, plain, labels)[0].tolist()
    got, base = rule.score_batch(sa, arena, stories=labels), rule.score_batch(sa, plain, stories=labels)
    for field in ("dup", "containment", "story"):
        assert np.array_equal(getattr(got, field), getattr(base, field))


def test_replay_gives_the_index_decisions(seed_texts: dict[str, str]) -> None:
    rng = random.Random(6)
    events = [synthetic.make_event(rng) for _ in range(3)]
    texts = {f"r{i}": synthetic.report(rng, events[i % 3]) for i in range(9)}
    texts["copy"] = synthetic.reprint(rng, texts["r0"])
    texts.update(seed_texts)
    order = list(texts)
    sigs = {i: sg.signature(t) for i, t in texts.items()}
    pairs = {(a, b): rule.score_pair(sigs[a], sigs[b]) for n, b in enumerate(order) for a in order[:n]}
    replayed = rule.replay(order, pairs)
    with StoryIndex(":memory:") as idx:
        verdicts = {i: idx.add(i, texts[i]) for i in order}
    first_of: dict[str, str] = {}
    for i in order:
        first_of.setdefault(verdicts[i].story_id, i)
        assert replayed[i] == (first_of[verdicts[i].story_id], verdicts[i].duplicate_of)
    assert replayed["copy"][1] == "r0"


@pytest.mark.parametrize("value", ["2024-05-01", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00+02:00", None])
def test_published_accepts_iso_dates(value: str | None) -> None:
    days = rule.parse_published(value)
    assert (days is None) == (value is None)


def test_published_times_with_offsets_are_one_instant() -> None:
    same = [rule.parse_published(v) for v in ("2024-05-01T23:00:00-10:00", "2024-05-02T09:00:00Z",
                                               "2024-05-02T11:00:00+02:00")]
    assert same[0] == same[1] == same[2]


@pytest.mark.parametrize("value", ["yesterday", "01/05/2024", "", 20240501])
def test_published_rejects_other_values(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="ISO"):
        rule.parse_published(value)  # type: ignore[arg-type]


def test_news_feed_mixes_new_events_coverage_and_reprints_as_stated() -> None:
    from collections import Counter

    feed = synthetic.NewsFeed(5, reprint_share=0.1, coverage_share=0.3)
    items = feed.take(1000)
    kinds = Counter(i.kind for i in items)
    assert abs(kinds["reprint"] - 100) < 35 and abs(kinds["coverage"] - 300) < 50
    assert len({i.id for i in items}) == len({i.text for i in items}) == 1000
    again = synthetic.NewsFeed(5, reprint_share=0.1, coverage_share=0.3).take(3)
    assert [i.text for i in again] == [i.text for i in items[:3]]  # deterministic


def test_a_text_without_names_or_numbers_keeps_dup_bands_and_its_copy_is_found() -> None:
    from cleaner.stories import StoryIndex

    text = " ".join(["the river rose over the old stone wall and the water ran down the lane"] * 6)
    sig = sg.signature(text)
    assert sg.strong_terms(sig) < sg.DUP_KEYS_BELOW_STRONG
    assert len(sg.band_keys(sig, "duplicate")) == sg.DUP_BANDS
    with StoryIndex(":memory:") as idx:
        idx.add("a", text)
        v = idx.add("b", text + " and then it stopped")
    assert v.duplicate_of == "a"


# The compiled scanner (salient.TokenTable.scan_salient) must find exactly the tokens, starts
# and terms of the plain path (tokenize + TokenTable.salient): both feed stored signatures.
_SCAN_WORDS = st.sampled_from(
    ["abc", "XYZ", "019", "1500", "it's", "’tis", "-x-", "é", "Ünal", "😀", "www.x", "a.com",
     "http://x.org/y", "me@x.org", "Lomira", "Kavendor", "police", "Police", ""])
_SCAN_MARKS = st.sampled_from(
    list(".!?:;\"“”\n|—–()[]{}<>") + list(",/\\*&%$#@+=~^`_…•·«»‘\t\r' -’")
    + ["\u00a0", " ", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u2028", "\u3000", ""])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(_SCAN_WORDS, _SCAN_MARKS), max_size=30),
       source=st.sampled_from([None, "lomira.com"]))
def test_compiled_scanner_finds_what_the_plain_tokenizer_finds(parts: list[tuple[str, str]],
                                                               source: str | None) -> None:
    from cleaner.stories.salient import TokenTable, tokenize

    text = "".join(w + m for w, m in parts)
    table = TokenTable(key=sg._word_hash)
    scanned = table.scan(text)
    assert scanned is not None
    rows, ids, starts = scanned
    assert [rows.strings[i] for i in ids.tolist()] == tokenize(text).toks
    assert starts.tolist() == tokenize(text).starts
    fast = table.scan_salient(text, source)
    plain = table.salient(tokenize(text), source)
    assert np.array_equal(fast.token_keys, plain.token_keys)
    assert np.array_equal(fast.rows, plain.rows) and np.array_equal(fast.weights, plain.weights)
    fresh = TokenTable(key=sg._word_hash).salient(tokenize(text), source)
    assert fast.terms() == fresh.terms()


def test_compiled_scanner_marks_segment_starts_like_the_plain_tokenizer() -> None:
    from cleaner.stories.salient import TokenTable

    # "Police" opens a sentence here (not a name), and is mid-sentence in the second text.
    table = TokenTable(key=sg._word_hash)
    assert "police" not in table.scan_salient("Calm day. Police came to Lomira Street.").terms()
    assert "police" in table.scan_salient("Calm day as Police came to Lomira Street.").terms()


def test_token_table_index_grows_and_keeps_every_token() -> None:
    from cleaner.stories.salient import TokenTable

    table = TokenTable(key=sg._word_hash)
    words = [f"Zqx{i}name" for i in range(20_000)]
    first = table.scan_salient(" and ".join(words))
    again = table.scan_salient(" and ".join(words))
    assert np.array_equal(first.token_keys, again.token_keys) and first.terms() == again.terms()
    assert len(first.terms()) == 20_000


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 2**32 - 1), max_size=300))
def test_compiled_minhash_equals_datasketch(values: list[int]) -> None:
    m = MinHash(num_perm=sg.DUP_NUM_PERM, seed=sg.SEED, scheme=sg.HASH_SCHEME, hashfunc=lambda x: x)
    m.update_batch(values)
    assert np.array_equal(sg._minhash(np.array(values, np.uint32), sg._DUP_A, sg._DUP_B), m.hashvalues)


@pytest.mark.slow
def test_kernels_work_where_numba_may_write_no_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A read-only install without a writable home leaves numba no cache location; that is
    # simulated by giving it none. Importing must still work, and give the same signature.
    import subprocess
    import sys

    text = "Kavendor Lomira said 1500 people came to Brastow Street on Monday."
    code = ("import numba.core.caching as c; c.CacheImpl._locator_classes = []\n"
            "from cleaner.stories import signatures as sg\n"
            f"print(sg.signature({text!r}).dup.tolist())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sg.signature(text).dup.tolist())
