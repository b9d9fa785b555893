"""Synthetic news text for tests and benchmarks: events with made-up names, places and numbers,
reported independently by several "outlets" (different wording, shared facts), and reprints.

Nothing here comes from a real article; names are built from syllables, filler from common
English words, so tests need no data files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "dor", "sel", "tun", "bri", "qua", "zel", "mor",
              "fa", "nik", "pol", "gar", "ost", "lin", "shu", "wex", "tra", "bel", "cor", "dun")
_FILLER = ("the", "a", "of", "in", "and", "to", "on", "at", "was", "were", "said", "after",
           "before", "with", "from", "by", "about", "while", "when", "people", "officials",
           "later", "earlier", "area", "home", "street", "night", "morning", "report", "city",
           "local", "family", "friends", "statement", "police", "investigators", "witnesses",
           "according", "around", "near", "during", "several", "other", "many", "small",
           "large", "group", "several", "team", "public", "time", "day", "week", "year")
_KINDS = {
    "shooting": ("shooting", "shot", "gunfire", "wounded", "suspect", "victim", "hospital",
                 "arrested", "weapon", "scene"),
    "storm": ("storm", "winds", "flooding", "damage", "power", "outages", "rain", "shelter",
              "evacuated", "forecast"),
    "trial": ("trial", "jury", "verdict", "judge", "prosecutors", "defense", "testimony",
              "sentenced", "court", "charges"),
}


def made_up_name(rng: random.Random, parts: int = 3) -> str:
    """A capitalised word that is in no dictionary: e.g. "Kavendor"."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


@dataclass(frozen=True)
class Event:
    """The facts every report of one event shares."""

    kind: str
    people: tuple[str, ...]
    place: str
    numbers: tuple[str, ...]


def make_event(rng: random.Random, kind: str = "shooting") -> Event:
    people = tuple(f"{made_up_name(rng)} {made_up_name(rng)}" for _ in range(3))
    numbers = (str(rng.randrange(100, 9900)), f"{rng.randrange(1, 12)}:{rng.randrange(10, 59)}",
               str(rng.randrange(15, 80)))
    return Event(kind, people, made_up_name(rng), numbers)


def _sentence(rng: random.Random, facts: list[str], kind_words: tuple[str, ...], n: int) -> str:
    words = [rng.choice(_FILLER) for _ in range(n)]
    for f in facts:
        words.insert(rng.randrange(1, len(words) + 1), f)
    words.insert(rng.randrange(1, len(words) + 1), rng.choice(kind_words))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def report(rng: random.Random, event: Event, *, sentences: int = 8) -> str:
    """One outlet's report: its own wording, the event's names, place and numbers."""
    kind_words = _KINDS[event.kind]
    facts = [*(p for p in event.people), event.place, f"in {event.place}", *event.numbers]
    out = []
    for i in range(sentences):
        pick = [facts[i % len(facts)], rng.choice(facts)]
        out.append(_sentence(rng, pick, kind_words, rng.randrange(12, 22)))
    paras = [" ".join(out[i:i + 2]) for i in range(0, len(out), 2)]
    return "\n\n".join(paras)


def reprint(rng: random.Random, text: str) -> str:
    """A syndicated copy: first or last paragraph dropped, a word changed, other furniture."""
    paras = text.split("\n\n")
    if len(paras) > 3:
        paras = paras[1:] if rng.random() < 0.5 else paras[:-1]
    body = "\n\n".join(paras).split(" ")
    body[rng.randrange(len(body))] = "reportedly"
    return "Share this story\n\n" + " ".join(body) + "\n\nCopyright Example Wire. All rights reserved."


#: Exponent of the Zipf law words are drawn with: about English's (most frequent word ~6%).
ZIPF_EXPONENT = 1.07


def filler_article(rng: random.Random, words: int = 600, vocabulary: list[str] | None = None) -> str:
    """An article of ``words`` words drawn from ``vocabulary`` (most frequent first) by a Zipf
    law, as in real text, with a few made-up names (benchmarks). Deterministic for ``rng``."""
    vocab = vocabulary or list(_FILLER)
    # Inverse-CDF sampling of a truncated Zipf law on ranks 1..len(vocab), vectorised.
    n = len(vocab)
    s = ZIPF_EXPONENT
    top = (n ** (1 - s) - 1) / (1 - s)
    x = np.random.default_rng(rng.getrandbits(64)).random(words) * top
    ranks = np.clip(((x * (1 - s) + 1) ** (1 / (1 - s))).astype(np.int64), 1, n) - 1
    out = [vocab[r] for r in ranks.tolist()]
    for _ in range(max(1, words // 60)):
        out[rng.randrange(words)] = made_up_name(rng)
    sentences = [" ".join(out[i:i + 20]).capitalize() + "." for i in range(0, words, 20)]
    return "\n\n".join(" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4))


#: Default mix of :class:`NewsFeed`: shares of reprints (near-copies of a recent article) and of
#: same-story coverage (another outlet's report of a recent event); the rest are new events.
FEED_REPRINT_SHARE = 0.07
FEED_COVERAGE_SHARE = 0.20
#: Reprints and follow-up coverage pick from the last this many events/articles (a news cycle).
FEED_RECENT = 2_000
#: Articles per simulated day (publication dates advance with the feed).
FEED_PER_DAY = 5_000


@dataclass(frozen=True)
class FeedItem:
    """One article of a synthetic feed; ``kind`` is "new", "coverage" or "reprint"."""

    id: str
    text: str
    source: str
    published: str
    kind: str


class NewsFeed:
    """A deterministic stream of unique synthetic news articles, like a wire feed: each new
    event is reported by one outlet (its facts inside about ``words`` words of Zipf-drawn
    filler); ``coverage_share`` of the items are another outlet's own report of a recent event
    (shared names, place and numbers, different wording); ``reprint_share`` are syndicated
    near-copies of a recent article (:func:`reprint`). Benchmarks and tests."""

    def __init__(self, seed: int = 0, *, words: int = 600, vocabulary: list[str] | None = None,
                 reprint_share: float = FEED_REPRINT_SHARE,
                 coverage_share: float = FEED_COVERAGE_SHARE, recent: int = FEED_RECENT) -> None:
        if reprint_share < 0 or coverage_share < 0 or reprint_share + coverage_share > 1:
            raise ValueError("reprint_share and coverage_share must be >= 0 and sum to at most 1")
        self._rng = random.Random(seed)
        self.words = words
        self.vocabulary = vocabulary
        self.reprint_share = reprint_share
        self.coverage_share = coverage_share
        self.recent = recent
        self._events: list[Event] = []
        self._texts: list[str] = []
        self.produced = 0

    def _article(self, event: Event) -> str:
        rng = self._rng
        facts = report(rng, event, sentences=8)
        filler = filler_article(rng, max(20, self.words - len(facts.split())), self.vocabulary)
        return facts + "\n\n" + filler

    def next(self) -> FeedItem:
        rng = self._rng
        i = self.produced
        x = rng.random()
        if x < self.reprint_share and self._texts:
            kind, text = "reprint", reprint(rng, rng.choice(self._texts))
        elif x < self.reprint_share + self.coverage_share and self._events:
            kind, text = "coverage", self._article(rng.choice(self._events))
        else:
            event = make_event(rng, rng.choice(tuple(_KINDS)))
            self._events.append(event)
            kind, text = "new", self._article(event)
        self._texts.append(text)
        del self._events[:-self.recent], self._texts[:-self.recent]
        self.produced += 1
        day = i // FEED_PER_DAY
        published = f"2024-{1 + (day // 28) % 12:02d}-{1 + day % 28:02d}"
        return FeedItem(f"f{i}", text, f"{made_up_name(rng, 2).lower()}.example", published, kind)

    def take(self, n: int) -> list[FeedItem]:
        """The next ``n`` items."""
        return [self.next() for _ in range(n)]
