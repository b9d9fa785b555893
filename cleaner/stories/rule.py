"""The clustering rule: how a scored pair becomes a match, and how an article picks its story.

Pure functions over signatures and scores, shared by :class:`~cleaner.stories.StoryIndex`
and batch jobs (Spark), so that both make the same decisions for the same insertion order.

The rule (also in the README, "Story detection"):

1. Each candidate pair gets two scores: ``dup`` (MinHash Jaccard of word 5-gram shingles,
   and the containment derived from it) and ``story`` (weighted overlap of salient terms,
   never below ``dup``, damped when the publication dates are far apart). A term that the
   candidates of several stories hold (a city, a police department, an outlet's reporter)
   weighs less than one held by a single story (a victim's name): see ``SPREAD_WEIGHT``.
2. A new article is a *duplicate* when some earlier article is near-identical
   (``is_duplicate``). It then joins that article's story, and ``duplicate_of`` is the first
   of the copies (the root of the copy chain).
3. Otherwise it joins the story whose *distinct copies* it matches best **on average**:
   per story, sum the best ``story`` score per root (a set of reprints counts once), divide by
   the story's number of roots (members it did not match count as 0), and join the best
   story if that average reaches ``STORY_JOIN``. Otherwise it starts a new story.

Averaging over all members (average link) is what prevents chaining: A~B and B~C put C in
A's story only if C also resembles A enough to keep the average up.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, TypeVar

import numpy as np

from ..errors import InvalidArgumentError
from . import kernels
from .signatures import WEIGHT_SCALE, Signature, SignatureBatch, signature

#: Shingle Jaccard from which two texts are copies of one another (edited head/tail, other
#: boilerplate). On stories-dev, pairs of different stories never exceed 0.06, and
#: independent reports of one event (the seeds) 0.03.
DUP_JACCARD = 0.4
#: A shorter text whose shingles are this contained in a longer one is a copy (a truncated or
#: edited reprint) provided the Jaccard is also at least DUP_MIN_JACCARD (not a quote).
#: Different stories never exceed a containment of 0.18 on stories-dev.
DUP_CONTAINMENT = 0.6
DUP_MIN_JACCARD = 0.2
#: Texts with fewer shingles than this (about 20 words) are never called copies: a notice or
#: a one-line stub is identical on many pages that share nothing else.
DUP_MIN_SHINGLES = 15
#: Average story score (over a story's distinct copies) needed to join it. 0.10 since the
#: spread weighting (SPREAD_WEIGHT) made cross-story scores lower: on stories-dev, pairwise F1
#: of GVA .818 -> .843, BASIL .904 -> .942, ECB+ .780 -> .799 (with MIN_SHARED_WEIGHT; before:
#: 0.12 and neither rule); 0.09 and 0.11 score within .02 of 0.10.
STORY_JOIN = 0.10
#: The average divides by (number of roots) ** LINK_EXPONENT: 1 is plain average link; lower
#: values let big stories accept an article that matches only part of them.
LINK_EXPONENT = 1.0
#: Pair scores below this are noise: ignored by the rule and not reported as matches, so a
#: batch job may drop them without changing any decision.
PAIR_FLOOR = 0.10
#: Normalisation of the shared salient weight: divided by small ** (1 - m) * large ** m of the
#: two articles' total weights. m = 0.5 is the cosine (Ochiai); lower values favour a short
#: report whose facts are all inside a long one.
OVERLAP_MIX = 0.5
#: Publication dates this many days apart or less are "the same news cycle": no damping.
TIME_FULL_DAYS = 3.0
#: Beyond that, the story score is multiplied by exp(-(days - TIME_FULL_DAYS) / TIME_DECAY),
#: never below TIME_FLOOR (follow-ups months later: trials, anniversaries, still one story).
#: 30 days since the spread weighting: with cross-story scores lower, follow-ups weeks later
#: can be let in (GVA F1 .843 -> .846 in file order, .833 -> .843 by date, .808 -> .815
#: shuffled; BASIL unchanged; 45 or 60 days cost BASIL .03-.05).
TIME_DECAY_DAYS = 30.0
TIME_FLOOR = 0.45
#: Spread weighting. When an article is scored against its candidates, each of its terms is
#: weighed by 1 / (1 + SPREAD_WEIGHT * ln(1 + s - SPREAD_FREE)), where s is the number of
#: distinct stories whose candidates hold the term (from SPREAD_FREE stories on; terms held by
#: fewer keep their weight). The candidates are the article's neighbourhood in the index (they
#: share its rarest terms), so this is an inverse document frequency over that neighbourhood,
#: counted in stories so that a big story's own names are not discounted by its size. On
#: stories-dev it moved pairwise precision of GVA shootings from .927 to .97 at equal recall,
#: which let STORY_JOIN come down; 0.3-1.0 and SPREAD_FREE 1-2 score within .01 of it.
SPREAD_WEIGHT = 0.5
SPREAD_FREE = 1
#: A pair must share more salient weight than this (before spread weighting), i.e. more than
#: one fully rare term: a single shared name (the city, a street) never makes two articles one
#: story, however few terms they have. On stories-dev: ECB+ F1 .777 -> .799, GVA and BASIL
#: within .002.
MIN_SHARED_WEIGHT = 1.05


def _is_duplicate(dup: Any, containment: Any) -> Any:
    # One pair (floats: a bool) or many (arrays: a bool array).
    return (dup >= DUP_JACCARD) | ((containment >= DUP_CONTAINMENT) & (dup >= DUP_MIN_JACCARD))


def _worth_keeping(dup: Any, containment: Any, story: Any) -> Any:
    # Pairs the rule can act on: copies, and story scores from PAIR_FLOOR up.
    return _is_duplicate(dup, containment) | (story >= PAIR_FLOOR)


@dataclass(frozen=True, slots=True)
class PairScore:
    """The scores of one pair of articles."""

    dup: float  # MinHash Jaccard of shingles
    containment: float  # of the smaller shingle set in the larger
    story: float  # same-story score in [0, 1]

    @property
    def is_duplicate(self) -> bool:
        return bool(_is_duplicate(self.dup, self.containment))

    @property
    def worth_keeping(self) -> bool:
        """Whether the rule can act on this pair (a batch job may drop the others)."""
        return bool(_worth_keeping(self.dup, self.containment, self.story))


def parse_published(value: str | None) -> float | None:
    """An ISO date or datetime string as days since the epoch (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"published must be an ISO date string or None, got {type(value).__name__}")
    v = value.strip()
    try:
        if len(v) == 10:
            return float(date.fromisoformat(v).toordinal())
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        if dt.tzinfo is not None:  # one instant is one time, whatever the offset it is written in
            dt = dt.astimezone(timezone.utc)
        return dt.toordinal() + (dt.hour * 3600 + dt.minute * 60 + dt.second) / 86400.0
    except ValueError:
        raise InvalidArgumentError(
            f"published must be an ISO 8601 date or datetime such as '2024-05-01' or "
            f"'2024-05-01T14:30:00Z'; got {value!r}") from None


def story_date(published: str | None, page_date: str | None) -> str | None:
    """The date to compare an article by: ``published`` as the caller gave it, else the date
    its page states (the cleaner's ``date``) when that parses, else None. Dates keep apart
    same-type events of one city: on GVA shootings pairwise F1 is .846 with them, .681
    without."""
    if published is not None or page_date is None:
        return published
    try:
        parse_published(page_date)
    except InvalidArgumentError:
        return None
    return page_date


def time_factor(days_a: float | None, days_b: float | None) -> float:
    """Damping of the story score by the distance between two publication days."""
    if days_a is None or days_b is None:
        return 1.0
    return float(_time_factors(days_a, [days_b])[0])


def _time_factors(days_a: float, days_others: Sequence[float | None] | np.ndarray) -> np.ndarray:
    # 1 within TIME_FULL_DAYS (and for an unknown date: None or NaN), then the decay, never
    # below the floor.
    if not isinstance(days_others, np.ndarray):
        days_others = np.array([np.nan if d is None else d for d in days_others], np.float64)
    gap = np.abs(days_others - days_a)
    with np.errstate(invalid="ignore"):
        decayed = np.maximum(TIME_FLOOR, np.exp(-(gap - TIME_FULL_DAYS) / TIME_DECAY_DAYS))
        return np.where(gap > TIME_FULL_DAYS, decayed, 1.0)


def salient_overlap(a: Signature, b: Signature) -> float:
    """Shared salient weight of two articles (per shared term, the smaller of its two weights),
    normalised by their total weights (see OVERLAP_MIX). Symmetric."""
    return float(_overlaps(a, SignatureBatch.from_signatures([b]), None)[0][0])


def spread_factors(a: Signature, others: SignatureBatch, stories: Sequence[int] | np.ndarray | None
                   ) -> np.ndarray:
    """The weight factor of each of ``a``'s terms, given its candidates ``others`` and their
    ``stories`` (one integer label per candidate; see SPREAD_WEIGHT). None: all 1."""
    return _overlaps(a, others, stories)[1]


def _labels(others: SignatureBatch, stories: Sequence[int] | np.ndarray | None) -> tuple[np.ndarray, int]:
    # The candidates' stories as labels 0..n_labels-1 (n_labels 0: no spread weighting).
    if stories is None:
        return np.zeros(len(others), np.int64), 0
    labels = np.asarray(stories)
    if labels.shape != (len(others),):
        raise InvalidArgumentError(f"stories must hold one label per candidate ({len(others)}), "
                                   f"got shape {labels.shape}")
    if labels.shape[0] == 0:
        return labels.astype(np.int64), 0
    if not (labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < labels.shape[0]):
        labels = np.unique(labels, return_inverse=True)[1]
    return labels.astype(np.int64, copy=False), int(labels.max()) + 1


def _overlaps(a: Signature, others: SignatureBatch, stories: Sequence[int] | np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray]:
    # All candidates in one compiled pass (kernels.overlaps): each candidate's terms looked up
    # in a's sorted terms; a term both hold counts with its spread factor on both sides, and
    # the pair must share more than MIN_SHARED_WEIGHT before spread weighting. Weights stay
    # in their stored units (weight * WEIGHT_SCALE): the ratio does not depend on the scale.
    labels, n_labels = _labels(others, stories)
    return kernels.overlaps(a.terms, a.term_weights, others.terms, others.term_weights,
                            others.starts, others.lens, labels, n_labels, SPREAD_WEIGHT, SPREAD_FREE,
                            MIN_SHARED_WEIGHT * WEIGHT_SCALE, OVERLAP_MIX)


@dataclass(frozen=True, slots=True)
class BatchScores:
    """:class:`PairScore` fields of one article against many, as arrays (index order)."""

    dup: np.ndarray
    containment: np.ndarray
    story: np.ndarray

    def worth_keeping(self) -> np.ndarray:
        """Pairs the rule can act on (as :attr:`PairScore.worth_keeping`)."""
        return _worth_keeping(self.dup, self.containment, self.story)

    def pair(self, i: int) -> PairScore:
        return PairScore(dup=float(self.dup[i]), containment=float(self.containment[i]),
                         story=float(self.story[i]))


def score_batch(a: Signature, others: SignatureBatch, published_a: float | None = None,
                published_others: Sequence[float | None] | np.ndarray | None = None,
                stories: Sequence[int] | np.ndarray | None = None) -> BatchScores:
    """The scores of ``a`` with each of ``others``, computed together (numpy): the one place
    that holds the pair arithmetic. ``stories``: the story of each candidate as an integer
    label, for the spread weighting (SPREAD_WEIGHT); None scores every pair on its own."""
    overlap = _overlaps(a, others, stories)[0]
    dups = kernels.dup_agreement(a.dup, others.dup, others.rows) / a.dup.shape[0]
    sizes = others.n_shingles
    small = np.minimum(sizes, a.n_shingles)
    large = np.maximum(sizes, a.n_shingles)
    j = np.where(small >= DUP_MIN_SHINGLES, dups, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # |A n B| = J (|A| + |B|) / (1 + J); divided by the smaller set.
        containment = np.where(small > 0, np.minimum(1.0, j * (small + large) / ((1.0 + j) * small)), 0.0)
    story = np.maximum(j, overlap)
    if published_a is not None and published_others is not None:
        story = story * _time_factors(published_a, published_others)
    return BatchScores(j, containment, story)


def score_many(a: Signature, others: Sequence[Signature], published_a: float | None = None,
               published_others: Sequence[float | None] | None = None) -> list[PairScore]:
    """The scores of ``a`` with each of ``others``, each pair on its own (no spread weighting),
    as PairScores (see :func:`score_batch`)."""
    if not others:
        return []
    b = score_batch(a, SignatureBatch.from_signatures(others), published_a, published_others)
    return [PairScore(dup=x, containment=c, story=st)
            for x, c, st in zip(b.dup.tolist(), b.containment.tolist(), b.story.tolist())]


def score_pair(a: Signature, b: Signature, published_a: float | None = None,
               published_b: float | None = None) -> PairScore:
    """Both scores of a pair on its own (no spread weighting); ``published_*`` are days as
    from :func:`parse_published`. Symmetric, and the same arithmetic as :func:`score_many`."""
    return score_many(a, [b], published_a, [published_b])[0]


K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a new article goes: an existing story key (None: a new story) and its original."""

    story: Hashable | None
    duplicate_of: str | None
    best_average: float


def decide(scores: Mapping[str, PairScore], story_of: Mapping[str, K], root_of: Mapping[str, str],
           roots_in_story: Mapping[K, int]) -> Decision:
    """Apply the rule to one new article.

    ``scores``: earlier article id -> score, in insertion order of the earlier articles;
    ``story_of``/``root_of``: story key and copy root of each of them; ``roots_in_story``: the
    number of distinct roots of each story involved.
    """
    best_dup: str | None = None
    best_dup_sim = -1.0
    for other, s in scores.items():
        if s.is_duplicate and s.dup > best_dup_sim:
            best_dup, best_dup_sim = other, s.dup
    if best_dup is not None:
        return Decision(story_of[best_dup], root_of.get(best_dup, best_dup), 1.0)
    per_root: dict[str, float] = {}
    root_story: dict[str, K] = {}
    for other, s in scores.items():
        if s.story < PAIR_FLOOR:
            continue
        root = root_of.get(other, other)
        if s.story > per_root.get(root, 0.0):
            per_root[root] = s.story
            root_story[root] = story_of[other]
    sums: dict[K, float] = {}
    for root, v in per_root.items():
        k = root_story[root]
        sums[k] = sums.get(k, 0.0) + v
    best: K | None = None
    best_avg = 0.0
    for k, total in sums.items():
        avg = total / max(1, roots_in_story[k]) ** LINK_EXPONENT
        if avg > best_avg:
            best, best_avg = k, avg
    if best is not None and best_avg >= STORY_JOIN:
        return Decision(best, None, best_avg)
    return Decision(None, None, best_avg)


def replay(order: Sequence[str], pairs: Mapping[tuple[str, str], PairScore]
           ) -> dict[str, tuple[str, str | None]]:
    """Replay :meth:`StoryIndex.add` decisions over ``order``.

    ``pairs`` maps (id_a, id_b), in either order, to the pair's score; pairs absent score 0
    (as pairs that are not LSH candidates do in the index). The decisions are the index's
    when the pairs are scored as the index scores them (:func:`score_batch` of each article
    against its candidates, with their stories for the spread weighting). Returns id -> (story key,
    duplicate_of), where the story key is the id of the story's first article.
    """
    by_later: dict[str, dict[str, PairScore]] = {}
    pos = {a: i for i, a in enumerate(order)}
    if len(pos) != len(order):
        raise InvalidArgumentError("replay: ids in `order` must be distinct")
    for (a, b), s in pairs.items():
        if a not in pos or b not in pos or a == b:
            continue
        early, late = (a, b) if pos[a] < pos[b] else (b, a)
        by_later.setdefault(late, {})[early] = s
    story_of: dict[str, str] = {}
    root_of: dict[str, str] = {}
    roots: dict[str, int] = {}
    out: dict[str, tuple[str, str | None]] = {}
    for a in order:
        cands = by_later.get(a, {})
        scores = {e: cands[e] for e in sorted(cands, key=pos.__getitem__)}
        d = decide(scores, story_of, root_of, roots)
        key = a if d.story is None else str(d.story)
        story_of[a] = key
        if d.duplicate_of is None:
            root_of[a] = a
            roots[key] = roots.get(key, 0) + 1
        else:
            root_of[a] = d.duplicate_of
        out[a] = (key, d.duplicate_of)
    return out


def matches_of(scores: Iterable[tuple[str, PairScore]]) -> list[tuple[str, str, float]]:
    """The matches worth reporting: (id, kind, similarity), best first."""
    out = []
    for other, s in scores:
        if s.is_duplicate:
            out.append((other, "duplicate", s.dup))
        elif s.story >= PAIR_FLOOR:
            out.append((other, "same_story", s.story))
    out.sort(key=lambda m: (-m[2], m[0]))
    return out


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel a signature and a score use, with the
    argument types they get in use: a process that calls this first (the service's master
    before it forks its workers, a Docker build) spares its first request the compile time
    (several seconds on a cold cache)."""
    text = "Warm up: Kavendor Lomira said 1500 people came to Brastow Street on Monday."
    sig = signature(text, "warmup.example")
    batch = SignatureBatch.from_bytes([sig.to_bytes(), sig.to_bytes()])
    score_batch(sig, batch, 0.0, [0.0, None], [0, 1])
    kernels.rehash(np.zeros(2, np.uint64), np.zeros(2, np.int32), 4)
