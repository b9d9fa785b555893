"""Salient terms of an article: what two independent reports of one event share even when
their wording differs (names, places, numbers, rare words).

Pure functions, no corpus statistics: the same text always gives the same terms, which keeps
scores reproducible between the index and a batch job.
"""

from __future__ import annotations

import functools
import math
import re
import secrets
import threading
from collections.abc import Callable
from itertools import repeat
from typing import NamedTuple

import numpy as np

from . import kernels

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
_BREAK_CHARS = ".!?:;\"“”\n|—–()[]{}<>"
_BREAKS = re.compile("[" + re.escape(_BREAK_CHARS) + "]")
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
# On ASCII text one str.translate spaces those out and turns every break into a newline, so
# str.splitlines() cuts the segments; the other ASCII characters splitlines() breaks at are
# whitespace to str.split(), so spacing them out too changes no token.
_SPLITLINES_ONLY = "\x0b\x0c\x1c\x1d\x1e"
_SPACE_OUT_AND_BREAK = str.maketrans({**{c: " " for c in _SPACE_OUT_CHARS + _SPLITLINES_ONLY},
                                      **{c: "\n" for c in _BREAK_CHARS}})
# str.translate is fast only on ASCII text; elsewhere one regex pass spaces out, and _BREAKS
# splits.
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
    if not tok.isdecimal():  # "3-year-old", "2nd", "9mm", "²": not a plain number
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
    """A text's word and number tokens (original case, in order), and the positions of those
    that open a sentence, line, quotation or parenthesis (``starts``): a capitalised word only
    ever seen at a start may be an ordinary word."""

    toks: list[str]
    starts: list[int]


# Chinese and Japanese are written without spaces: each of their characters is a token (so a
# copy shares character 5-grams), while runs of other characters split at spaces as usual.
_IDEOGRAPHIC_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IDEOGRAPHIC = re.compile(f"[{_IDEOGRAPHIC_CHARS}]")
_IDEOGRAPHIC_TOKEN = re.compile(f"[{_IDEOGRAPHIC_CHARS}]|[^\\s{_IDEOGRAPHIC_CHARS}]+")
# The compiled scanner's view of the same rules (TokenTable.scan_salient): BREAK characters
# end a segment, SEPARATOR ones (spaced out, or whitespace to str.split) end a token.
_CLASSES = kernels.char_classes(_SPACE_OUT_CHARS + _SPLITLINES_ONLY, _BREAK_CHARS)


def tokenize(text: str) -> Tokens:
    """Tokens of ``text`` in one fast pass (translate, split), shared by shingling and salient
    terms: tokenising is a large part of the cost of a signature."""
    text = _strip_addresses(text)
    if text.isascii():
        segments = text.translate(_SPACE_OUT_AND_BREAK).splitlines()
    else:
        segments = _BREAKS.split(_SPACE_OUT_PATTERN.sub(" ", text))
    toks: list[str] = []
    starts: list[int] = []
    ideographic = not text.isascii() and _IDEOGRAPHIC.search(text) is not None
    for seg in segments:
        ws = _IDEOGRAPHIC_TOKEN.findall(seg) if ideographic else seg.split()
        if ws:
            starts.append(len(toks))
            toks += ws
    return Tokens(toks, starts)


#: Row flags of a TokenTable: the token scores as a term (a number, a rare lower-case word);
#: it is a lower-case word (its term is then no name in this text); it is a name (a
#: capitalised word of 3+ letters, not a common word), outright when rare, else only when
#: also seen away from a start.
_SCORED, _LOWER, _NAME, _NAME_IF_MID = 1, 2, 4, 8
_NOTHING = (0, "", 0.0)


def _classify(tok: str) -> tuple[int, str, float]:
    """What one token is: (flags, term, weight); the weight of a name is its rarity, that of
    a rare lower-case word is RARE_FACTOR times it."""
    low = tok.lower()
    if tok == low:
        c = low[0]
        if c.isdigit():
            w = _number_weight(low)
            return (_SCORED, tok, w) if w else _NOTHING
        if c.isalpha() or c in _EDGE_MARKS:
            word = _normalise(low)
            if word:
                w = word_weight(word)
                if len(word) >= 3 and w >= RARE_MIN_WEIGHT and word not in _COMMON:
                    return _LOWER | _SCORED, word, w * RARE_FACTOR
                return _LOWER, word, 0.0
        return _NOTHING
    bare = tok.lstrip(_EDGE_MARKS) if tok[0] in _EDGE_MARKS else tok
    if bare and bare[0].isupper():
        word = _normalise(low)
        if len(word) >= 3 and word not in _COMMON:
            w = word_weight(word)
            return (_NAME if w >= RARE_MIN_WEIGHT else _NAME_IF_MID), word, w
    return _NOTHING


#: A TokenTable starts afresh past this many rows (news vocabulary repeats, so a table this
#: size keeps nearly every token of a feed; memory stays at a few tens of MB).
TABLE_ROWS = 400_000
#: Rows allocated at first; the columns double as they fill.
_FIRST_ROWS = 1 << 12


class _Rows:
    """One generation of a TokenTable: the row of each token, and its columns."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.strings: list[str] = []
        self.flags = np.zeros(_FIRST_ROWS, np.uint8)
        self.term = np.zeros(_FIRST_ROWS, np.intp)  # row of the token's term
        self.weight = np.zeros(_FIRST_ROWS, np.float64)
        self.key = np.zeros(_FIRST_ROWS, np.uint64)
        # The compiled scanner's index of this generation: token-bytes hash -> row, in an
        # open-addressing table (kernels.scan) kept at most half full. One tuple, swapped
        # whole when it grows, so a reader never pairs new keys with old rows. The hash seed
        # is random per generation: nobody can craft two tokens that share a row.
        self.seed = np.uint64(secrets.randbits(64))
        self.hindex = (np.zeros(2 * _FIRST_ROWS, np.uint64), np.zeros(2 * _FIRST_ROWS, np.int32))
        self.hcount = 0

    def index_hash(self, h: np.uint64, row: int) -> None:
        """Record that the token of scanner hash ``h`` is ``row`` (under the table's lock)."""
        keys, vals = self.hindex
        if 2 * (self.hcount + 1) > keys.shape[0]:
            keys, vals = kernels.rehash(keys, vals, 2 * keys.shape[0])
            self.hindex = (keys, vals)
        if kernels.insert(keys, vals, h, row):
            self.hcount += 1

    def append(self, tok: str, flags: int, term: int, weight: float, key: int) -> int:
        row = len(self.strings)
        if row == self.flags.shape[0]:
            for name in ("flags", "term", "weight", "key"):
                old = getattr(self, name)
                new = np.zeros(2 * row, old.dtype)
                new[:row] = old
                setattr(self, name, new)
        self.flags[row] = flags
        self.term[row] = row if term < 0 else term
        self.weight[row] = weight
        self.key[row] = key
        self.strings.append(tok)
        self.index[tok] = row  # last: a reader that finds the row finds its columns filled
        return row


class SalientTerms(NamedTuple):
    """A tokenised text as rows of a TokenTable: the caller's key of each token (in order),
    and the distinct salient terms (rows, sorted), their keys and weights."""

    token_keys: np.ndarray  # uint64[len(toks)]
    rows: np.ndarray  # intp[k]
    term_keys: np.ndarray  # uint64[k]
    weights: np.ndarray  # float64[k]
    strings: list[str]  # the table's tokens by row

    def terms(self) -> list[str]:
        """The terms themselves (lower-case), in the order of ``rows``."""
        return list(map(self.strings.__getitem__, self.rows.tolist()))


class TokenTable:
    """What each token seen so far is (salient class, term, weight) and ``key(token)`` (a
    hash of the caller's, e.g. the word hash of signatures), one row per token in numpy
    columns. A text then costs one lookup per token and one compiled pass over its rows
    (:func:`.kernels.salient_rows`). The lookup is a dict's for a list of tokens, or, in
    :meth:`scan`, a probe of a compact hash table by the compiled scanner: a memo of hundreds
    of thousands of tokens misses the CPU caches, so what a lookup touches is what counts.
    Every term is a row too (its key is ``key(term)``).

    Safe to share between threads: readers take no lock, learning a new token takes one, and
    a full table is replaced, not emptied, under readers that still use it."""

    def __init__(self, key: Callable[[str], int] | None = None, max_rows: int = TABLE_ROWS) -> None:
        self._key = key
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._rows = _Rows()

    def _generation(self) -> _Rows:
        rows = self._rows
        if len(rows.strings) > self._max_rows:
            with self._lock:
                if self._rows is rows:
                    self._rows = _Rows()
                rows = self._rows
        return rows

    def lookup(self, toks: list[str]) -> tuple[_Rows, np.ndarray]:
        """The table generation in use and the row of each token, learning new tokens."""
        rows = self._generation()
        ids = np.fromiter(map(rows.index.get, toks, repeat(-1)), np.intp, len(toks))
        if toks and ids.min() < 0:
            miss = np.flatnonzero(ids < 0).tolist()
            new = [toks[i] for i in miss]
            with self._lock:  # a key that fails leaves only whole rows learnt
                ids[miss] = [self._learn(rows, tok) for tok in new]
        return rows, ids

    def _learn(self, rows: _Rows, tok: str) -> int:
        row = rows.index.get(tok)
        if row is not None:
            return row
        flags, term, weight = _classify(tok)
        term_row = self._learn(rows, term) if flags and term != tok else -1
        return rows.append(tok, flags, term_row, weight, self._key(tok) if self._key else 0)

    def keys(self, text: str) -> np.ndarray:
        """``key`` of each token of ``tokenize(text)``, in order (uint64); found by the
        compiled scanner (:meth:`scan`) when it can take the text."""
        scanned = self.scan(text)
        rows, ids = self.lookup(tokenize(text).toks) if scanned is None else scanned[:2]
        return rows.key[ids]

    def salient(self, tokens: Tokens, source: str | None = None) -> SalientTerms:
        """Salient terms of a tokenised text; see salient_from_tokens."""
        rows, ids = self.lookup(tokens.toks)
        return self._terms(rows, ids, np.array(tokens.starts, np.int64), source)

    def scan_salient(self, text: str, source: str | None = None) -> SalientTerms:
        """``salient(tokenize(text), source)``, the same result computed by the compiled
        scanner (:meth:`scan`) when it can take the text."""
        scanned = self.scan(text)
        if scanned is None:
            return self.salient(tokenize(text), source)
        return self._terms(*scanned, source)

    def scan(self, text: str) -> tuple[_Rows, np.ndarray, np.ndarray] | None:
        """The table generation in use, the row of each token of ``text`` and the indexes of
        the tokens that open a segment: ``tokenize(text)`` as rows, found by the compiled
        scanner straight from the text's UTF-8 bytes, learning new tokens. None for what it
        does not take: Chinese and Japanese text, and text that is not valid Unicode."""
        text = _strip_addresses(text)
        if not text.isascii() and _IDEOGRAPHIC.search(text) is not None:
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return None
        rows = self._generation()
        keys, vals = rows.hindex
        begin, end, hashes, ids, starts = kernels.scan(np.frombuffer(data, np.uint8), _CLASSES,
                                                       rows.seed, keys, vals)
        if ids.shape[0] and ids.min() < 0:
            miss = np.flatnonzero(ids < 0).tolist()
            spans = [(begin[i], end[i]) for i in miss]
            with self._lock:
                for i, (b, e) in zip(miss, spans):
                    ids[i] = row = self._learn(rows, data[b:e].decode("utf-8"))
                    rows.index_hash(hashes[i], row)
        return rows, ids, starts

    def _terms(self, rows: _Rows, ids: np.ndarray, starts: np.ndarray, source: str | None
               ) -> SalientTerms:
        exclude = [row for row in map(rows.index.get, source_words(source)) if row is not None]
        terms, weights = kernels.salient_rows(ids, starts, rows.flags, rows.term, rows.weight,
                                              np.array(exclude, np.int64), _SCORED, _LOWER,
                                              _NAME, _NAME_IF_MID)
        return SalientTerms(rows.key[ids], terms, rows.key[terms], weights, rows.strings)


_TABLE = TokenTable()


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
    once (memoised in a TokenTable), which keeps this cheap.
    """
    found = _TABLE.salient(tokens, source)
    return dict(zip(found.terms(), found.weights.tolist()))
