"""Salient terms of an article: what two independent reports of one event share even when
their wording differs (names, places, numbers, rare words).

Pure functions, no corpus statistics: the same text always gives the same terms, which keeps
scores reproducible between the index and a batch job.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

#: Word ranks (from .wordranks) at which a word's weight starts rising above the floor, and
#: from which it counts as fully rare (unknown words, mostly names, are fully rare too).
COMMON_RANK = 300
RARE_RANK = 40_000
#: Curvature of the rank -> weight map: above 1, only truly rare words weigh much, so place
#: names common in a region's news ("county", "avenue", a big city) say less than a surname.
WEIGHT_GAMMA = 1.5
#: Floor of a term's weight: even a common word shared by name says a little.
MIN_WEIGHT = 0.05
#: A lower-case word is salient from this weight on (rare words: "nightclub", "arraigned").
RARE_MIN_WEIGHT = 0.5
#: Lower-case rare words weigh less than names of the same rarity: they describe the kind of
#: event (shared by many stories of a beat) more than the event.
RARE_FACTOR = 0.6
#: Numbers: counts, ages, addresses, times. Years say little (every story of a year has them).
NUMBER_WEIGHT = 0.4
YEAR_WEIGHT = 0.1
#: Two-digit numbers (ages, counts) recur across unrelated stories far more than addresses,
#: times or case numbers.
SMALL_NUMBER_WEIGHT = 0.2
#: Numbers below this (small counts, "1 of 3") are not salient at all.
MIN_NUMBER = 11

# Frequent English words that are capitalised at sentence starts or in headlines and would
# otherwise pass for names; and frequent long words that are not rare. General English, not
# tuned to any site or story.
_COMMON = frozenset("""
a about above after again against all also although am among an and another any are around as
at back be because been before being below between both but by can could did do does doing
down during each either even every few first for from further had has have having he her here
hers herself him himself his how however i if in into is it its itself just last late later
least less like made make many may me might more most much must my myself near neither never
new next no nor not now of off often on once one only or other our ours out over own per
perhaps rather same several she should since so some still such than that the their theirs
them themselves then there these they this those though through thus to too under until up
upon us very was we were what when where whether which while who whom whose why will with
within without would yet you your yours yourself
monday tuesday wednesday thursday friday saturday sunday today tonight yesterday tomorrow
morning afternoon evening night week weekend month year years day days hour hours minute
minutes january february march april june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec mr mrs ms dr st
said says say told according reported report reports news update updated photo photos video
image images getty associated press reuters ap copyright rights reserved read more share
click comments comment subscribe newsletter email advertisement sponsored related
however meanwhile although according following including because before after another
jr sr sgt lt gov rep sen ave rd blvd hwy mt ft dept co inc corp ltd llc am pm est edt pst
""".split())
#: Contraction endings: "didn't", "we'll" are common words, whatever the rank list says.
_CONTRACTION_ENDS = ("'t", "’t", "'ll", "’ll", "'re", "’re", "'ve", "’ve", "'d", "’d", "'m", "’m")

# Tokenising: these characters end a sentence, line, quotation or clause (a capitalised word
# after them may be an ordinary word), and these others merely separate words.
_BREAKS = re.compile(r"[.!?:;\"“”\n|—–()\[\]{}<>]")
# Web addresses, e-mail addresses, handles and hashtags are not words of the story (and a
# site's own address is on all its pages). Each kind is removed only when its cue is in the
# text: the cheap substring tests and _MAYBE_DOMAIN spare most texts any removal, and a
# pattern without the kinds that cannot match runs faster over the others (the same result:
# an absent cue means that alternative never matches). The alternatives keep their order.
_TLD = r"(?:com|org|net|gov|edu|us|uk|co|tv|info|io|ly|me|news)"
_MAYBE_DOMAIN = re.compile(r"\." + _TLD + r"\b")
_MAYBE_DOMAIN_ANY_CASE = re.compile(r"\." + _TLD + r"\b", re.IGNORECASE)
_URL, _WWW, _EMAIL, _HANDLE = r"https?://\S+", r"www\.\S+", r"\S+@\S+", r"[@#]\w+"
# Possessive runs: a run of [\w-] never gives back characters (a "." must follow it), which
# spares the engine a backtrack through every word of the text.
_DOMAIN = r"\b[\w-]++(?:\.[\w-]++)*\." + _TLD + r"\b\S*"


@functools.lru_cache(maxsize=32)
def _address_pattern(kinds: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(kinds), re.IGNORECASE)


def _strip_addresses(text: str) -> str:
    if not ("@" in text or "#" in text or "://" in text or "www." in text
            or _MAYBE_DOMAIN.search(text)):
        return text
    at = "@" in text
    kinds = tuple(k for k, present in (
        (_URL, "://" in text), (_WWW, "www." in text.lower()), (_EMAIL, at),
        (_HANDLE, at or "#" in text), (_DOMAIN, _MAYBE_DOMAIN_ANY_CASE.search(text) is not None))
        if present)
    return _address_pattern(kinds).sub(" ", text)


# Apostrophes and hyphens at the edge of a token are quotation marks or dashes.
_EDGE_MARKS = "'’-"
_SPACE_OUT_CHARS = ",/\\*&%$#@+=~^`_…•·«»‘\t\r\u00a0"
_SPACE_OUT = str.maketrans({c: " " for c in _SPACE_OUT_CHARS})
# str.translate is fast only on ASCII text; elsewhere one regex pass does the same.
_SPACE_OUT_PATTERN = re.compile("[" + re.escape(_SPACE_OUT_CHARS) + "]")
_PARTS = re.compile(r"[-'’.]")
_POSSESSIVE = re.compile(r"['’]s$")


def _ranks() -> dict[str, int]:
    from .wordranks import WORDS

    return {w: i for i, w in enumerate(WORDS.split())}


_RANK: dict[str, int] = _ranks()
_LOG_COMMON = math.log(COMMON_RANK)
_LOG_SPAN = math.log(RARE_RANK) - _LOG_COMMON


@functools.lru_cache(maxsize=1 << 18)
def word_weight(word: str) -> float:
    """How much sharing this (lower-case) word says, from its English frequency rank: near
    MIN_WEIGHT for the most common words, 1.0 for rare and unknown ones. A hyphenated word is
    as rare as its rarest part ("year-old" is common, "ton-that" is not)."""
    rank = 0
    for part in _PARTS.split(word):
        if part:
            rank = max(rank, _RANK.get(part, RARE_RANK))
    if rank <= COMMON_RANK:
        return MIN_WEIGHT
    x = min(1.0, (math.log(rank) - _LOG_COMMON) / _LOG_SPAN)
    return max(MIN_WEIGHT, x ** WEIGHT_GAMMA)


def _number_weight(tok: str) -> float:
    if not tok.isdigit():  # "3-year-old", "2nd", "9mm": not a plain number
        return 0.0
    value = int(tok)
    if value < MIN_NUMBER:
        return 0.0
    if len(tok) == 4 and 1900 <= value <= 2100:
        return YEAR_WEIGHT
    if len(tok) == 2:
        return SMALL_NUMBER_WEIGHT
    return NUMBER_WEIGHT


@functools.lru_cache(maxsize=4096)
def source_words(source: str | None) -> frozenset[str]:
    """Words of an outlet's name or host ("wkbn.com" -> {"wkbn"}): every page of the outlet
    carries them, so they say nothing about the event."""
    if not source:
        return frozenset()
    labels = re.findall(r"[^\W\d_]+", source.lower())
    return frozenset(w for w in labels if w not in _HOST_WORDS)


_HOST_WORDS = frozenset("www com org net news co uk us html".split())


@functools.lru_cache(maxsize=1 << 18)
def _normalise(low: str) -> str:
    """A lower-case token as a term: quote marks and dashes at its edges dropped, a possessive
    "'s" dropped; "" for a contraction ("didn't") or a token with no letter first."""
    if "'" in low or "’" in low or "-" in low:
        low = low.strip(_EDGE_MARKS)
        if not low or low.endswith(_CONTRACTION_ENDS):
            return ""
        low = _POSSESSIVE.sub("", low)
    return low if low[:1].isalpha() else ""


class Tokens(NamedTuple):
    """A text's word and number tokens (original case, in order), and the distinct tokens
    seen first in a sentence, line, quotation or parenthesis (``starts``) and elsewhere
    (``mids``): a capitalised word only ever seen at a start may be an ordinary word."""

    toks: list[str]
    starts: set[str]
    mids: set[str]
    distinct: set[str]


def tokenize(text: str) -> Tokens:
    """Tokens of ``text`` in one fast pass (translate, split), shared by shingling and salient
    terms: tokenising dominates the cost of a signature."""
    toks: list[str] = []
    starts: set[str] = set()
    mids: set[str] = set()
    text = _strip_addresses(text)
    text = text.translate(_SPACE_OUT) if text.isascii() else _SPACE_OUT_PATTERN.sub(" ", text)
    for seg in _BREAKS.split(text):
        ws = seg.split()
        if ws:
            starts.add(ws[0])
            if len(ws) > 1:
                mids.update(ws[1:])
            toks.extend(ws)
    return Tokens(toks, starts, mids, starts | mids)


# What each distinct token is, memoised on first sight (news vocabulary repeats) and cleared
# when large, so memory stays bounded. One lookup per distinct token of a text: with a memo
# of hundreds of thousands of tokens every lookup is a cache miss, so fewer passes matter more
# than fewer Python steps.
_MEMO_MAX = 300_000
#: Token classes (first field of a memo entry).
_OTHER, _NUMBER, _LOWER, _NAME = 0, 1, 2, 3
#: token -> (class, term, weight, eligible):
#: number: (_NUMBER, token, weight, False), for numbers of nonzero weight;
#: lower-case word: (_LOWER, word, weight as a rare word or 0.0, False);
#: capitalised word of 3+ letters: (_NAME, word, weight as a name, rare enough to count even
#: when only ever seen at a sentence start); anything else: (_OTHER, "", 0.0, False).
_memo: dict[str, tuple[int, str, float, bool]] = {}
_NOTHING = (_OTHER, "", 0.0, False)


def _learn(tok: str) -> tuple[int, str, float, bool]:
    """Classify one token (and memoise it)."""
    low = tok.lower()
    entry = _NOTHING
    if tok == low:
        c = low[0]
        if c.isdigit():
            w = _number_weight(low)
            if w:
                entry = (_NUMBER, tok, w, False)
        elif c.isalpha() or c in _EDGE_MARKS:
            word = _normalise(low)
            if word:
                w = word_weight(word)
                rare = len(word) >= 3 and w >= RARE_MIN_WEIGHT and word not in _COMMON
                entry = (_LOWER, word, w * RARE_FACTOR if rare else 0.0, False)
    else:
        bare = tok.lstrip(_EDGE_MARKS) if tok[0] in _EDGE_MARKS else tok
        if bare and bare[0].isupper():
            word = _normalise(low)
            if len(word) >= 3 and word not in _COMMON:
                w = word_weight(word)
                entry = (_NAME, word, w, w >= RARE_MIN_WEIGHT)
    _memo[tok] = entry
    return entry


def salient_terms(text: str, source: str | None = None) -> dict[str, float]:
    """Map each salient term (lower-cased) to its weight in (0, 1]; see salient_from_tokens."""
    return salient_from_tokens(tokenize(text), source)


def salient_from_tokens(tokens: Tokens, source: str | None = None) -> dict[str, float]:
    """Salient terms of a tokenised text.

    Names: a capitalised word that is not a common function word, is not only seen at a
    sentence start (unless rare), and that the text never writes in lower case (so "Police"
    at the start of a line, with "police" elsewhere, is not a name); weighted by rarity.
    Numbers: see NUMBER_WEIGHT. Rare words: lower-case words of weight >= RARE_MIN_WEIGHT.
    Words of the outlet's name (``source``) are neither. Each distinct token is classified
    once (memoised), which keeps this cheap.
    """
    if len(_memo) > _MEMO_MAX:
        _memo.clear()
    mids = tokens.mids
    get = _memo.get
    out: dict[str, float] = {}
    lower_seen: set[str] = set()
    names: dict[str, float] = {}
    for tok in tokens.distinct:
        kind, term, w, eligible = get(tok) or _learn(tok)
        if kind == _LOWER:
            lower_seen.add(term)
            if w:
                out[term] = w
        elif kind == _NAME:
            if eligible or tok in mids:
                names[term] = w
        elif kind == _NUMBER:
            out[term] = w
    for word in names.keys() - lower_seen:
        out[word] = names[word]
    for word in source_words(source):
        out.pop(word, None)
    return out
