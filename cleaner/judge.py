"""The block classifier: for each block of an article, keep it or remove it with a reason
and a score in [0, 1].

Signals are small pure functions of one block (its *shape*: length, stopword share, case,
punctuation, link density, lexicon hits) or of the block in its article (position, what its
neighbours are, topical coherence with the rest of the text). :func:`judge` combines them:
each detector proposes ``(reason, score)``, the highest wins, and the block goes when that
score reaches the threshold of the chosen ``favor``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import lexicon as lx
from .models import Block, Removal

if TYPE_CHECKING:  # pragma: no cover
    from .boilerplate import BoilerplateModel

FAVORS = ("precision", "balanced", "recall")

#: Score a block needs to be removed, per ``favor``. "precision" removes only what is
#: nearly certain; "recall" also takes the doubtful cases.
THRESHOLDS = {"precision": 0.72, "balanced": 0.55, "recall": 0.42}

#: Reasons, as they appear in :class:`~cleaner.models.Removal`.
TITLE = "title"
DUPLICATE_TITLE = "duplicate_title"
SECTION_LABEL = "section_label"
CALL_TO_ACTION = "call_to_action"
ADVERTISING = "advertising"
OFF_TOPIC = "off_topic"
SITE_BOILERPLATE = "site_boilerplate"
CAPTION = "caption"
BYLINE = "byline"
DATELINE = "dateline"
RELATED = "related"

#: A headline has at most this many words; longer first lines are a standfirst or body.
MAX_HEADLINE_WORDS = 20
#: ... and at most this many characters (20 long words, or a headline in Chinese or Japanese).
MAX_HEADLINE_CHARS = 200
#: A line ending like this is a sentence or clause, not a headline (the ideographic and
#: full-width stops too).
_CLAUSE_END = (".", ":", ",", ";", "。", "．", "：", "，", "；")
#: Captions are a sentence or two; longer blocks are body text that mentions a photo.
MAX_CAPTION_WORDS = 60
#: Promotional copy is a line or a short paragraph; a longer block that talks about
#: subscriptions or apps is about them (and scanning it costs the most).
MAX_PROMO_WORDS = 100
#: Highest score text signals may give a heading, list or table of an HTML page (below
#: every threshold but "recall"'s): trafilatura kept them as the page's structure.
MARKUP_STRUCTURE_CAP = 0.5
#: HTML: blocks this close to either end count as the edges where bylines and dates sit.
EDGE_BLOCKS = 4
#: HTML: share of link-dense blocks above which a page is a listing (links are its content).
LISTING_LINK_SHARE = 0.2
#: ...and it needs this many blocks: two bare links are navigation, not a listing.
MIN_LISTING_BLOCKS = 5
#: HTML: a promo line without a strong cue must be this short to count.
MARKUP_WEAK_PROMO_WORDS = 15
#: Short blocks are where furniture lives; longer ones get the benefit of the doubt.
SHORT_WORDS = 12
#: Prose: enough words, a sentence end, and function words at a normal rate.
PROSE_MIN_WORDS = 12
PROSE_MIN_STOP_SHARE = 0.25
#: Blocks this close to the end count as the tail (where teasers and sign-offs sit).
TAIL_BLOCKS = 2
#: Cosine (content words, capitalised ones doubled) under which a block shares little
#: with the rest of its article. On promo-text-dev about 10% of real closing paragraphs
#: fall below it (a last quote, a new name), so it only counts with teaser style;
#: appended teasers sit near 0.
LOW_COHERENCE = 0.08
#: Consecutive headline-shaped lines that make a teaser list. Articles rarely have three
#: unpunctuated short lines in a row outside their header; link lists have many.
MIN_TEASER_RUN = 3
#: ...unless the lines share the article's vocabulary (a fact box, a feature list).
TEASER_RUN_COHERENCE = 0.3
#: HTML: a block with this share of the page's words is the page's content, not furniture
#: (trafilatura already cut the page down to its main content).
BULK_SHARE = 0.4
#: HTML: when removals would take more than this share of the page's words, the page is not
#: an article with furniture (a shop, a listing, a service page): only removals scored at
#: least SURE_SCORE (copyright lines, sign-up pitches, "Related" labels) stand.
MAX_REMOVED_SHARE = 0.4
SURE_SCORE = 0.85
#: HTML: promo cues (score >= PROMO_CUE) in this share of a page's blocks, and at least
#: MIN_PROMO_TOPIC_BLOCKS of them, make promotion the page's subject rather than an insert.
PROMO_CUE = 0.3
PROMO_TOPIC_SHARE = 0.35
MIN_PROMO_TOPIC_BLOCKS = 3
#: Share of a block's characters inside links above which it is a link list.
LINK_DENSE = 0.6

#: A word: letters and digits, inner apostrophes, dots and hyphens ("don't", "U.S.", "e-mail").
#: Possessive (``++``, ``*+``): a word never gives characters back, which spares the engine
#: its backtracking bookkeeping (tokenizing is the largest single cost per block).
_WORD = re.compile(r"[^\W_]++(?:['’.\-][^\W_]++)*+")
#: The same words in ASCII text, where the letters and digits are exactly [A-Za-z0-9]: a
#: character range is quicker to test than the Unicode tables (1.4x; most paragraphs are ASCII).
_ASCII_WORD = re.compile(r"[A-Za-z0-9]++(?:['.\-][A-Za-z0-9]++)*+")
#: Lower-casing a text and then finding its words gives its words lower-cased, except around
#: two letters: "İ" lower-cases to "i" and a combining dot (which ends the word), and "Σ" to
#: "ς" or "σ" by what stands next to it (the one letter whose lower case depends on context).
#: Checked over every code point; tests/test_judge.py guards it.
_DOTTED_CAPITAL_I = "\u0130"
_CAPITAL_SIGMA = "\u03a3"
_SENTENCE_END = tuple('.!?"”’\')…')
_QUOTES = re.compile(r"[\"“”«»]|''")
_LEADING_NUMBER = re.compile(r"^\W*(?:\d+[.)]|[•\-*–])\s")
#: Date words that on their own make a block a date (not "today", "hours", "time").
_DATE_ANCHORS = frozenset(w for w in lx.DATE_WORDS if len(w) >= 3 and w not in {
    "today", "yesterday", "hours", "hour", "minutes", "minute", "mins", "min", "days", "day", "time", "date",
    "ago", "updated", "last", "published", "posted", "modified", "created", "a.m", "p.m", "gmt", "utc", "est",
    "edt", "pst", "pdt", "cst", "cdt", "mst", "mdt", "bst", "cet", "ist", "sun", "sat", "may", "mar"})
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_AD_BLOCK_HEADER = re.compile(r"(?i)\b(?:ads\s+by|sponsored\s+links?|from\s+our\s+(?:sponsors|partners))\b")
_KEY_VALUE = re.compile(r"^[\w .'’/-]{1,30}:\s")
_DIGIT = re.compile(r"\d")
_MONEY = re.compile(r"[$€£%]")
_PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")
#: A promo phrase that makes an offer (a price, a discount, a free trial): ``advertising``.
_OFFER = re.compile(r"[$€£%]|free|low\s+as|starting|coupon|code|off\b|required", re.I)
_TRUNCATED = re.compile(r"(?:\.\.\.|…|\b\w+-)\s*$")


@dataclass(frozen=True, slots=True)
class Judgement:
    """What :func:`judge` decided: blocks kept (in order), removals, and the title."""

    kept: tuple[Block, ...]
    removed: tuple[Removal, ...]
    title: str | None


def _words(text: str) -> list[str]:
    return (_ASCII_WORD if text.isascii() else _WORD).findall(text)


def _lowering_moves_words(text: str) -> bool:
    """Do the words of ``text.lower()`` differ from the lower-cased words of ``text``?"""
    return _DOTTED_CAPITAL_I in text or _CAPITAL_SIGMA in text


def _lower_words(text: str) -> list[str]:
    """The words of ``text``, lower-cased."""
    if _lowering_moves_words(text):
        return [w.lower() for w in _words(text)]
    return _words(text.lower())  # one lower() for the text instead of one per word


class _computed_once:
    """A method turned into an attribute computed on first read, like
    :class:`functools.cached_property` but without the lock that one takes on every first
    read in Python 3.11 (twice the cost of most features here; a Shape is never shared
    between threads)."""

    def __init__(self, method: Callable[[Any], Any]) -> None:
        self.method = method
        self.name = method.__name__
        self.__doc__ = method.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.method(obj)
        return value


class Shape:
    """Per-block features every signal reads, each computed at most once per block.

    The word lists and what every block needs (length, stopword share, prose or not) are
    computed up front; the rest on first use, because most signals stop at the word count
    and never read them for a body paragraph."""

    def __init__(self, block: Block) -> None:
        text = block.text
        self.text = text
        self.kind = block.kind
        self.lower: tuple[str, ...] = tuple(_lower_words(text))
        self.n_words = n = len(self.lower)
        self.stop_share = self.count_of(lx.STOPWORDS) / n if n else 0.0
        self.ends_sentence = text.rstrip().endswith(_SENTENCE_END)
        self.link_density = min(1.0, block.link_chars / len(text)) if text else 0.0
        self.is_prose = (n >= PROSE_MIN_WORDS and self.ends_sentence
                         and self.stop_share >= PROSE_MIN_STOP_SHARE)
        #: Short, no closing full stop: a headline, label, teaser link or tool.
        #: (Characters bound it too: a script written without spaces is one "word" a sentence.)
        self.headline_like = (0 < n <= MAX_HEADLINE_WORDS and len(text) <= MAX_HEADLINE_CHARS
                              and not text.rstrip().endswith(_CLAUSE_END))

    def count_of(self, vocabulary: frozenset[str]) -> int:
        """How many of the block's words (lower-cased) are in ``vocabulary``."""
        if vocabulary.isdisjoint(self.lower):
            return 0
        return sum(map(vocabulary.__contains__, self.lower))

    @_computed_once
    def words(self) -> tuple[str, ...]:
        """The words as written (most signals need only :attr:`lower`)."""
        return tuple(_words(self.text))

    @_computed_once
    def cap_share(self) -> float:
        """Share of the words starting with a letter that start with a capital."""
        initials = "".join([w[0] for w in self.words])
        alpha = sum(map(str.isalpha, initials))
        caps = sum(map(str.isupper, initials))
        return caps / alpha if alpha else 0.0

    @_computed_once
    def has_quote(self) -> bool:
        return bool(_QUOTES.search(self.text))

    @_computed_once
    def has_digit(self) -> bool:
        return bool(_DIGIT.search(self.text))

    @_computed_once
    def has_strong_promo(self) -> bool:
        """An outright promotional phrase (``lexicon.PROMO_STRONG``)."""
        return bool(lx.PROMO_STRONG.search(self.text))

    @_computed_once
    def title_key(self) -> str:
        """The text as titles are compared (:func:`_norm_title`)."""
        if _lowering_moves_words(self.text):
            return _norm_title(self.text)
        return " ".join(self.lower)  # the lower-cased text's words already


# ---------------------------------------------------------------------------------------
# Signals of one block. Each returns a score in [0, 1] (0 = no evidence).


def _either(*scores: float) -> float:
    """Combine independent pieces of evidence: 1 - prod(1 - s)."""
    rest = 1.0
    for s in scores:
        rest *= 1.0 - s
    return 1.0 - rest


def furniture_score(s: Shape, markup: bool = False) -> float:
    """Share/print/font tools, paging, feeds, "Article continues", copyright lines."""
    if s.n_words == 0:
        # Rules and dots ("___", "* * *") are often the article's own separators.
        return 0.5 if len(s.text.strip()) <= 40 else 0.0
    if s.n_words <= 25 and not s.has_quote and lx.COPYRIGHT.search(s.text):
        return 0.85
    if s.n_words <= 30 and not lx.FURNITURE_TRIGGERS.isdisjoint(s.lower) and lx.FURNITURE_PATTERNS.search(s.text):
        if s.n_words <= SHORT_WORDS:
            return 0.85
        if not s.is_prose:
            return 0.6
    if s.n_words <= 12 and lx.META_LINE.match(s.text):
        return 0.8
    if lx.BARE_URL.match(s.text):
        return 0.7
    if s.n_words <= 3 and not markup and not any(w[0].isalpha() for w in s.words):
        # "2,731", "(0 votes)": counters of a scraped page. Web pages that reach us through
        # trafilatura keep such numbers only as content (prices, code line numbers).
        return 0.6
    if s.n_words <= 8 and (not s.ends_sentence or s.n_words <= 3):
        content = [part for w in s.lower if w not in lx.STOPWORDS and not w[0].isdigit()
                   for part in w.split("-") if part and part not in ("a", "to")]
        if content:
            hits = sum(1 for w in content if w in lx.FURNITURE_WORDS)
            share = hits / len(content)
            if share >= 0.99:
                return 0.9 if s.n_words <= 5 else 0.75
            if share >= 0.6 and hits >= 2:
                return 0.7
        if lx.NAV_SYMBOLS.search(s.text) and s.stop_share < 0.2 and s.n_words <= 5:
            return 0.55
    return 0.0


def advert_marker_score(s: Shape) -> float:
    """A bare "Advertisement" / "Sponsored content" slot label."""
    return 0.95 if s.n_words <= 6 and lx.AD_MARKER.match(s.text) else 0.0


def promo_score(s: Shape) -> tuple[float, bool]:
    """Calls to action and advertising copy addressed to the reader.

    Returns the score and whether the block reads as an offer (prices, free trials),
    which makes it ``advertising`` rather than ``call_to_action``."""
    if s.n_words > MAX_PROMO_WORDS:
        return 0.0, False
    if lx.PROMO_TRIGGERS.isdisjoint(s.lower) and not _MONEY.search(s.text):
        strong: list[str] = []
        weak: list[str] = []
    else:
        strong = lx.PROMO_STRONG.findall(s.text)
        weak = lx.PROMO_WEAK.findall(s.text)
    phrases = strong + weak
    plug = bool(lx.SHOW_PLUG.search(s.text)) if s.has_digit else False
    first = s.lower[0] if s.lower else ""
    imperative = first in lx.CTA_VERBS and not s.text[:1].islower()
    you = s.count_of(lx.SECOND_PERSON)
    question_to_reader = you > 0 and "?" in s.text
    evidence = [0.5] * min(len(strong), 3) + [0.3] * min(len(weak), 2)
    if plug:
        evidence.append(0.6)
    if imperative:
        evidence.append(0.35)
    if you:
        evidence.append(0.3 if you >= 2 and s.n_words <= 30 else 0.2)
    if question_to_reader:
        evidence.append(0.25)
    if not evidence:
        return 0.0, False
    score = _either(*evidence)
    if strong and s.n_words <= 8:
        score = max(score, 0.65)  # "News alerts by email, click here": a short line built around a CTA
    if not phrases and not plug:
        score = min(score, 0.45)  # "you" and an imperative alone are common in quotes
    if s.has_quote and s.n_words > 15:
        score *= 0.5  # someone quoted saying "you should..." is news, not a promo
    elif s.n_words > 30 and not plug:
        # Long paragraphs mention subscriptions, apps, podcasts... as their subject.
        score *= 0.8 if s.n_words <= 60 else 0.6
    offer = any(p for p in phrases if _OFFER.search(p))
    return min(score, 1.0), offer


def dateline_score(s: Shape) -> float:
    """A block made of a date, a time and the words around them ("Last updated ...")."""
    if s.n_words == 0 or s.n_words > 15 or s.is_prose:
        return 0.0
    if lx.RELATIVE_TIME.match(s.text):
        return 0.85
    datey = 0
    anchor = False
    for w in s.lower:
        if w in lx.DATE_WORDS:
            datey += 1
            if w in _DATE_ANCHORS:
                anchor = True
        elif lx.DATE_NUMBER.match(w):
            datey += 1
            if _is_date_number(w):
                anchor = True
    if not anchor:
        return 0.8 if lx.PLACE_DATELINE.match(s.text.strip()) else 0.0
    share = datey / s.n_words
    if share >= 0.75:
        return 0.85
    if share >= 0.5 and s.n_words >= 3 and not s.ends_sentence:
        return 0.65
    return 0.0


def _is_date_number(w: str) -> bool:
    """A year (1800-2100), a d/m/y or h:m form: not a price ("449.00") or a score ("9.1")."""
    if w.isdigit():
        return len(w) == 4 and 1800 <= int(w) <= 2100
    core = w.rstrip("apmsthndr").rstrip(".")
    return "/" in core or ":" in core or core.count(".") >= 2 or core.count("-") >= 2


def byline_score(s: Shape) -> float:
    """"By Jane Doe", "Staff writer", "The Associated Press", reporter sign-offs."""
    if s.n_words == 0:
        return 0.0
    if s.n_words <= 12 and lx.BYLINE_START.match(s.text):
        rest = [w for w in s.words[1:] if w.lower() not in lx.STOPWORDS and w[0].isalpha()]
        if rest and sum(1 for w in rest if w[0].isupper() or w.lower() in lx.AGENCY_WORDS) / len(rest) >= 0.6:
            return 0.85
    if s.n_words <= 20 and lx.BYLINE_START.match(s.text) and ("|" in s.text or _has_date_tail(s)):
        return 0.75  # "By X | Updated: date"
    if lx.AGENCY_TAG.match(s.text.strip()):
        return 0.75
    if s.n_words <= 10 and lx.FROM_BYLINE.match(s.text):
        return 0.75
    if (2 <= s.n_words <= 6 and not s.ends_sentence and s.cap_share >= 0.99
            and s.lower[-1] in lx.OUTLET_WORDS):
        return 0.7  # "Kansas City Business Journal", "WASHINGTON POST"
    if s.n_words <= 8 and not s.ends_sentence:
        content = [w for w in s.lower if w not in lx.STOPWORDS]
        agency = sum(1 for w in content if w in lx.AGENCY_WORDS)
        if content and agency / len(content) >= 0.99:
            return 0.75
        if content and agency / len(content) >= 0.5 and (s.cap_share >= 0.6 or agency / len(content) >= 0.75):
            return 0.75
    if s.n_words <= 45 and _has_email(s.text) and re.search(
            r"(?i)\b(?:reached|contact|e-?mail|writer|reporter|correspondent|editor|follow)\b", s.text):
        return 0.5  # a reporter's contact line: often kept as part of the article
    return 0.0


def _has_email(text: str) -> bool:
    return "@" in text and bool(_EMAIL.search(text))  # the "@" test spares most texts the scan


def _has_date_tail(s: Shape) -> bool:
    tail = s.lower[-6:]
    return sum(1 for w in tail if w in _DATE_ANCHORS or lx.DATE_NUMBER.match(w)) >= 2


def caption_score(s: Shape) -> float:
    """Photo captions and credits: "Photo: X", "Name/Agency", "(File photo)"."""
    if s.n_words == 0 or s.n_words > MAX_CAPTION_WORDS:
        return 0.0
    if lx.CAPTION_TRIGGERS.isdisjoint(s.lower) and "/" not in s.text and "(" not in s.text:
        return 0.0
    if lx.CREDIT_LINE.match(s.text.strip()) and s.n_words <= 8:
        return 0.85
    if lx.TRAILING_CREDIT.search(s.text[-80:]) and not s.text.rstrip().endswith((".", "”", '"')):
        return 0.85
    if s.n_words <= 15 and lx.TRAILING_AGENCY.search(s.text[-12:]):
        return 0.7
    if lx.CAPTION_MARKER.search(s.text):
        if s.has_quote and s.n_words > 20:
            return 0.3
        return 0.8 if s.n_words <= 40 else 0.6  # a long caption is rarer than a mention
    if not s.has_quote and lx.CAPTION_POSITION.search(s.text):
        return 0.7
    if s.n_words <= 35 and not s.has_quote and lx.CAPTION_HINT.search(s.text):
        return 0.5
    return 0.0


def related_header_score(s: Shape) -> float:
    """A label introducing links to other articles ("Related stories", "See also")."""
    if s.n_words > 8 or (s.text.rstrip().endswith(".") and not s.text.rstrip().endswith("...")):
        return 0.0
    return 0.9 if lx.RELATED_HEADER.match(s.text) else 0.0


def link_list_score(s: Shape) -> float:
    """Mostly link text: a teaser list or navigation, seen only in HTML. Linked headings
    are left alone: listicles and guides link their section titles."""
    if s.kind == "heading":
        return 0.0
    if s.link_density >= LINK_DENSE and (s.kind == "list" or s.n_words <= 25):
        return 0.8 if s.kind == "list" or s.link_density >= 0.85 else 0.6
    return 0.0


# ---------------------------------------------------------------------------------------
# Signals of a block within its article.


def _content_vector(s: Shape) -> Counter[str]:
    """Content words of a block, capitalised (name-like) ones counted twice."""
    counts: dict[str, int] = {}  # a plain dict counts faster; the Counter is built once
    for i, (w, lw) in enumerate(zip(s.words, s.lower)):
        if len(lw) < 3 or lw in lx.STOPWORDS or lw.isdigit():
            continue
        counts[lw] = counts.get(lw, 0) + (2 if (i > 0 and w[0].isupper()) else 1)
    return Counter(counts)


def coherence(vec: Counter[str], total: Counter[str], total_sq: int) -> float:
    """Cosine between a block and the rest of its article (``total`` minus the block).

    ``total_sq`` is the squared norm of ``total``: the rest's norm then only needs the
    block's own words, not a pass over the article's whole vocabulary."""
    dot = 0.0
    norm_b = 0.0
    norm_rest_sq = total_sq
    for w, c in vec.items():
        t = total[w]
        rest = t - c
        dot += c * rest
        norm_b += c * c
        if t:  # in the rest, this word counts t - c times instead of t
            norm_rest_sq += rest * rest - t * t
    if not norm_b or norm_rest_sq <= 0:
        return 1.0
    return dot / math.sqrt(norm_b * norm_rest_sq)


def name_novelty(s: Shape, total: Counter[str], vec: Counter[str]) -> float:
    """Share of the block's names (capitalised words after the first) found nowhere else."""
    names = {lw for i, (w, lw) in enumerate(zip(s.words, s.lower))
             if i > 0 and w[0].isupper() and lw not in lx.STOPWORDS and len(lw) > 2}
    if not names:
        return 0.0
    new = sum(1 for lw in names if total[lw] - vec.get(lw, 0) <= 0)
    return new / len(names)


def off_topic_score(s: Shape, coh: float, novelty: float, n_prose_before: int, promo: float = 0.0) -> float:
    """An unrelated paragraph (a teaser for another piece) appended to the article.

    Low coherence alone is common in real closing paragraphs (a last quote, a new name),
    so it counts only together with teaser style: announcing another piece, addressing
    the reader, or a cut-off ending."""
    if s.n_words < 15 or n_prose_before < 3 or coh >= LOW_COHERENCE:
        return 0.0
    teaser = bool(lx.TEASER_PHRASES.search(s.text)) or bool(_TRUNCATED.search(s.text[-24:]))
    if not teaser and promo < 0.3:
        return 0.0
    low = 1.0 - coh / LOW_COHERENCE
    return min(1.0, 0.35 + 0.3 * low + 0.3 * novelty + 0.2 * promo)


# ---------------------------------------------------------------------------------------
# The combiner.


def _norm_title(text: str) -> str:
    """Lower-cased words, one space apart."""
    return " ".join(_words(text.lower()))


def _same_title(na: str, nb: str) -> bool:
    """Are these two titles (as :func:`_norm_title` gives them) the same?"""
    if not na or not nb:
        return False
    if na == nb:
        return True
    ta, tb = set(na.split()), set(nb.split())
    return len(ta & tb) / len(ta | tb) >= 0.85 and min(len(ta), len(tb)) >= 4


def _is_label(s: Shape) -> bool:
    """A lone short category label: "Security & Fraud", "World > Europe", "SPORTS"."""
    if s.n_words == 0 or s.n_words > 4 or s.ends_sentence:
        return False
    if re.search(r"[&|/>›»:]", s.text):
        return True
    return s.text.isupper() and s.n_words <= 3


def _find_title(shapes: Sequence[Shape], title: str | None) -> tuple[str | None, dict[int, tuple[str, float]]]:
    """Decide the title and the header blocks it explains (label, headline, repeats)."""
    verdicts: dict[int, tuple[str, float]] = {}
    head = min(len(shapes), 5)
    if title is None:
        candidates = []
        for i in range(head):
            s = shapes[i]
            if s.is_prose or s.n_words > MAX_HEADLINE_WORDS:
                break
            if s.headline_like and not (furniture_score(s) or dateline_score(s) or byline_score(s)
                                        or advert_marker_score(s) or caption_score(s)):
                candidates.append(i)
        for k, i in enumerate(candidates):
            later = [j for j in candidates[k + 1:] if j <= i + 2]
            if _is_label(shapes[i]) and later and shapes[later[0]].n_words > shapes[i].n_words:
                verdicts[i] = (SECTION_LABEL, 0.8)
                continue
            title = shapes[i].text
            verdicts[i] = (TITLE, 1.0)
            break
    if title:
        title_key = _norm_title(title)
        for i in range(min(len(shapes), 6)):
            if i not in verdicts and _same_title(shapes[i].title_key, title_key):
                verdicts[i] = (DUPLICATE_TITLE, 1.0)
        first_kept = next((i for i in range(head) if i not in verdicts), None)
        if (first_kept is not None and first_kept + 1 < len(shapes) and _is_label(shapes[first_kept])
                and any(v[0] in (TITLE, DUPLICATE_TITLE) for k, v in verdicts.items() if k > first_kept)):
            verdicts[first_kept] = (SECTION_LABEL, 0.8)
    return title, verdicts


def judge(blocks: Sequence[Block], *, title: str | None = None, favor: str = "balanced",
          boilerplate: "BoilerplateModel | None" = None, source: str | None = None,
          markup: bool = False) -> Judgement:
    """Keep or remove each block; every removal gets a reason and a score.

    ``title`` is the page's known title (from HTML metadata), if any; for plain text the
    title is found among the first blocks. ``boilerplate`` is a fitted
    :class:`~cleaner.boilerplate.BoilerplateModel`; blocks it knows as recurring for
    ``source`` are removed as ``site_boilerplate``. ``markup`` says the blocks come from
    HTML, so their kinds and link density are known (a teaser line must then be a link).
    """
    threshold = THRESHOLDS[favor]
    shapes = [Shape(b) for b in blocks]
    n = len(shapes)
    title, header = _find_title(shapes, title)

    promos = [promo_score(s) for s in shapes]
    if markup:
        promos = [_promo_in_markup(s, p) for s, p in zip(shapes, promos)]
    # A page where many blocks are mostly links is a listing: links are its content.
    listing = (markup and n >= MIN_LISTING_BLOCKS
               and sum(1 for s in shapes if s.link_density >= 0.5) > LISTING_LINK_SHARE * n)
    proposals: list[tuple[str, float]] = []
    for i, s in enumerate(shapes):
        if i in header:
            proposals.append(header[i])
            continue
        # In HTML, bylines and teaser link lists sit at the edges; in the middle, names and
        # links belong to the page's own items. Datelines that survive trafilatura in HTML
        # are the page's own (the wcxb-dev ground truth keeps them).
        edge = not markup or i < EDGE_BLOCKS or i >= n - EDGE_BLOCKS
        best = ("", 0.0)
        for reason, score in (
            (ADVERTISING, advert_marker_score(s)),
            (SITE_BOILERPLATE, furniture_score(s, markup)),
            (DATELINE, dateline_score(s) if not markup else 0.0),
            (BYLINE, byline_score(s) if edge else 0.0),
            (CAPTION, caption_score(s)),
            (RELATED, max(related_header_score(s), link_list_score(s) if edge and not listing else 0.0)),
        ):
            if score > best[1]:
                best = (reason, score)
        promo, offer = promos[i]
        if promo > best[1]:
            best = (ADVERTISING if offer else CALL_TO_ACTION, promo)
        if markup and s.kind in ("heading", "list", "table") and _weak_for_structure(best, s):
            # In HTML, headings, lists and tables that survive trafilatura are the page's own
            # structure (schedules, price lists, section titles): shape evidence is weak there.
            best = (best[0], min(best[1], MARKUP_STRUCTURE_CAP))
        if boilerplate is not None and s.n_words and boilerplate.is_boilerplate(source, s.text):
            # Recurring across the source's articles: sure at a high share, doubtful near the floor.
            bp = 0.6 + 0.4 * float(boilerplate.score(source, s.text))
            if bp > best[1]:
                best = (SITE_BOILERPLATE, bp)
        proposals.append(best)

    # Context: the rest of the article's vocabulary, for coherence of the tail.
    vocab = _Vocabulary(shapes)
    prose_before = 0
    for i, s in enumerate(shapes):
        if (i >= n - TAIL_BLOCKS and proposals[i][1] < threshold and s.n_words >= 15
                and (promos[i][0] >= 0.3 or lx.TEASER_PHRASES.search(s.text) or _TRUNCATED.search(s.text[-24:]))):
            coh = vocab.coherence(vocab.vecs[i])
            nov = name_novelty(s, vocab.total, vocab.vecs[i])
            score = off_topic_score(s, coh, nov, prose_before, promos[i][0])
            if score > proposals[i][1]:
                proposals[i] = (OFF_TOPIC, score)
        if s.is_prose:
            prose_before += 1

    _spread_context(shapes, proposals, promos, threshold, vocab, markup, listing)
    if markup:
        _spare_page_bulk(shapes, proposals, threshold)
        _spare_promo_topic(shapes, proposals, promos, threshold)

    kept: list[Block] = []
    removed: list[Removal] = []
    for b, (reason, score) in zip(blocks, proposals):
        if reason and (score >= threshold or reason in (TITLE, DUPLICATE_TITLE)):
            removed.append(Removal(b.text, reason, round(min(1.0, score), 3), b.position))
        else:
            kept.append(b)
    return Judgement(tuple(kept), tuple(removed), title)


def _spare_promo_topic(shapes: Sequence[Shape], proposals: list[tuple[str, float]],
                       promos: Sequence[tuple[float, bool]], threshold: float) -> None:
    """HTML: when promo cues run through a large share of a page's blocks, they are its subject
    (a piece about newsletters, a service's own pitch), not ads dropped into it: only sure
    promos (>= SURE_SCORE, e.g. a short sign-up line) still go."""
    n = len(shapes)
    cued = sum(1 for score, _ in promos if score >= PROMO_CUE)
    if n < MIN_LISTING_BLOCKS or cued < MIN_PROMO_TOPIC_BLOCKS or cued < PROMO_TOPIC_SHARE * n:
        return
    for i, (reason, score) in enumerate(proposals):
        if (reason in (CALL_TO_ACTION, ADVERTISING) and threshold <= score < SURE_SCORE
                and not advert_marker_score(shapes[i])):
            proposals[i] = (reason, threshold - 0.01)


def _spare_page_bulk(shapes: Sequence[Shape], proposals: list[tuple[str, float]], threshold: float) -> None:
    """HTML: trafilatura chose these blocks as the page's main content. A block holding a large
    share of the page's words is that content (a shop's one paragraph of copy, a listing's one
    list), however promotional it reads; and verdicts that would take much of the page's words
    misread a page that is not an article with some furniture: only sure ones stand there.
    Titles and ad slot labels are not judged by shape and always go."""
    total = sum(s.n_words for s in shapes)
    doubtful = [i for i, (reason, score) in enumerate(proposals)
                if score >= threshold and reason not in (TITLE, DUPLICATE_TITLE) and not advert_marker_score(shapes[i])]
    if not total or not doubtful:
        return
    below = threshold - 0.01
    for i in doubtful:
        if shapes[i].n_words >= BULK_SHARE * total:
            proposals[i] = (proposals[i][0], below)
    if sum(shapes[i].n_words for i in doubtful if proposals[i][1] >= threshold) > MAX_REMOVED_SHARE * total:
        for i in doubtful:
            if proposals[i][1] < SURE_SCORE:
                proposals[i] = (proposals[i][0], min(proposals[i][1], below))


def _promo_in_markup(s: Shape, promo: tuple[float, bool]) -> tuple[float, bool]:
    """On web pages, how-to and product text is full of "learn more", "get started": past a
    short line, only an outright pitch (newsletter, sign-up, inbox...) counts."""
    score, offer = promo
    if score and s.n_words > MARKUP_WEAK_PROMO_WORDS and not s.has_strong_promo:
        return min(score, MARKUP_STRUCTURE_CAP), offer
    return promo


def _weak_for_structure(best: tuple[str, float], s: Shape) -> bool:
    """Is this proposal only shape evidence (a date-like heading, a list of prices), as
    opposed to an ad slot, a link list or an outright sign-up pitch?"""
    reason = best[0]
    if reason in (DATELINE, BYLINE, CAPTION):
        return True
    if reason in (CALL_TO_ACTION, ADVERTISING) and not advert_marker_score(s):
        return not s.has_strong_promo
    return False


class _Vocabulary:
    """Content-word vectors of every block and their sum, built on first use (most
    articles never need them)."""

    def __init__(self, shapes: Sequence[Shape]) -> None:
        self._shapes = shapes

    @_computed_once
    def vecs(self) -> list[Counter[str]]:
        return [_content_vector(s) for s in self._shapes]

    @_computed_once
    def total(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for v in self.vecs:
            total.update(v)
        return total

    @_computed_once
    def total_sq(self) -> int:
        return sum(c * c for c in self.total.values())

    def coherence(self, vec: Counter[str]) -> float:
        """:func:`coherence` of ``vec`` (one block's, or a run's) with the rest of the article."""
        return coherence(vec, self.total, self.total_sq)


def _spread_context(shapes: Sequence[Shape], proposals: list[tuple[str, float]],
                    promos: Sequence[tuple[float, bool]], threshold: float, vocab: _Vocabulary,
                    markup: bool = False, listing: bool = False) -> None:
    """Let strong neighbours decide doubtful blocks: the lines of one ad, the links after a
    "Related" label, the short name line above a caption."""
    n = len(shapes)
    # Lines after a related-links label, up to the next prose paragraph.
    for i in range(n):
        if not (proposals[i][0] in (RELATED, ADVERTISING) and proposals[i][1] >= 0.85):
            continue
        # "Ads by X" / "Sponsored links" head a block of text ads; a bare "Advertisement"
        # marks one slot and heads nothing.
        header = related_header_score(shapes[i]) or (
            advert_marker_score(shapes[i]) and _AD_BLOCK_HEADER.search(shapes[i].text))
        if not header:
            continue
        reason = proposals[i][0]
        j = i + 1
        while j < n and j <= i + 12:
            s = shapes[j]
            if s.is_prose or not s.headline_like or s.n_words > MAX_HEADLINE_WORDS or s.text.endswith("?"):
                break
            if proposals[j][1] < threshold:
                proposals[j] = (reason, 0.75)
            j += 1
    # Lines of one promo: a doubtful block next to a sure call to action or ad.
    for _ in range(2):
        for i in range(n):
            own, offer = promos[i]
            if (own < 0.3 or proposals[i][1] >= threshold or shapes[i].is_prose and shapes[i].n_words > 30
                    or shapes[i].has_quote):
                continue
            for j in (i - 1, i + 1):
                if (0 <= j < n and proposals[j][0] in (CALL_TO_ACTION, ADVERTISING) and proposals[j][1] >= 0.7
                        and not advert_marker_score(shapes[j])):
                    proposals[i] = (ADVERTISING if offer else proposals[j][0], max(threshold, own + 0.2))
                    break
    # A short name line right above a caption belongs to the picture.
    for i in range(n - 1):
        s = shapes[i]
        if (proposals[i][1] < threshold and proposals[i + 1][0] == CAPTION and proposals[i + 1][1] >= threshold
                and 0 < s.n_words <= 3 and s.cap_share >= 0.99 and not s.ends_sentence):
            proposals[i] = (CAPTION, 0.7)
    # Name-only lines between the headline and the first paragraph: bylines, outlets.
    first_prose = next((i for i, s in enumerate(shapes) if s.is_prose), n)
    for i in range(min(first_prose, 8)):
        s = shapes[i]
        if (proposals[i][1] < threshold and 2 <= s.n_words <= 3 and s.cap_share >= 0.99
                and all(w.isalpha() for w in s.words) and s.stop_share == 0 and not s.ends_sentence and not re.search(r"[&|/>›»:]", s.text)):
            proposals[i] = (BYLINE, 0.6)
    # A run of teaser lines (short, headline-shaped, no list numbers) is a list of links.
    i = 0
    while i < n and not listing:
        j = i
        run: list[int] = []
        while j < n and (proposals[j][1] >= threshold or _teaser_line(shapes[j], markup)):
            if proposals[j][1] < threshold:
                run.append(j)
            j += 1
        need = MIN_TEASER_RUN + 1 if run and run[0] < first_prose else MIN_TEASER_RUN
        if (len(run) >= need and not _introduces_list(shapes, proposals, run[0] - 1, threshold)
                and _run_coherence(run, vocab) < TEASER_RUN_COHERENCE):
            score = 0.7 if len(run) >= MIN_TEASER_RUN + 2 else 0.6
            for k in run:
                proposals[k] = (RELATED, score)
        i = max(j, i + 1)


def _is_key_value(text: str) -> bool:
    """ "Memory: 512MB DDR2", "Radio: WONE-AM (980)": a spec or fact line, not a teaser
    headline like "Markets: Oil jumps on supply fears" (whose value is a sentence)."""
    m = _KEY_VALUE.match(text)
    if not m:
        return False
    value = _words(text[m.end():])
    if not value:
        return True
    digits = sum(1 for w in value if w[0].isdigit())
    caps = sum(1 for w in value if w[0].isupper())
    return digits / len(value) >= 0.25 or caps / len(value) >= 0.6 or len(value) <= 2


def _introduces_list(shapes: Sequence[Shape], proposals: Sequence[tuple[str, float]], k: int,
                     threshold: float) -> bool:
    """Does block ``k`` (kept, just before a run of short lines) announce them as the
    article's own list: "On the Net:", "WHO ARE THEY?", or a "Key: value" line?"""
    if k < 0 or proposals[k][1] >= threshold:
        return False
    text = shapes[k].text.rstrip()
    return text.endswith((":", "?")) or _is_key_value(text)


def _run_coherence(run: Sequence[int], vocab: _Vocabulary) -> float:
    joined: Counter[str] = Counter()
    for k in run:
        joined.update(vocab.vecs[k])
    return vocab.coherence(joined)


def _teaser_line(s: Shape, markup: bool = False) -> bool:
    if markup and (s.kind == "heading" or s.link_density < 0.5):
        return False
    return (s.headline_like and 2 <= s.n_words <= 16 and not s.is_prose and not s.has_quote
            and not _LEADING_NUMBER.match(s.text) and not s.text.rstrip().endswith("?")
            and not _has_email(s.text) and not _PHONE.search(s.text) and not _is_key_value(s.text))
