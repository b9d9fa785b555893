"""Article signatures: the ONE place that owns num_perm, shingling, the hash scheme and seeds.

A :class:`Signature` holds two MinHash sketches of one (cleaned) article:

* ``dup``: MinHash over word ``SHINGLE_WORDS``-grams, for the ``duplicate`` relation
  (near-identical copies: Jaccard and containment on shingles);
* ``salient``: MinHash over the article's salient terms (names, places, numbers, rare words,
  see :mod:`cleaner.stories.salient`), for ``same_story`` candidates;

plus the salient terms themselves as 32-bit hashes with a weight class each, for the finer
same-story score, and the shingle count (containment needs set sizes).

The sketches are bit-for-bit what ``datasketch.MinHash(num_perm, seed=SEED,
scheme=HASH_SCHEME)`` gives when fed :func:`shingle_hashes` / :func:`salient_hashes` with an
identity ``hashfunc`` (tests check it), but computed by compiled kernels (:mod:`.kernels`:
one pass over the text's bytes for the tokens, one vectorised loop for the minima), which is
what makes thousands of signatures per second possible. datasketch 2.x changed its default
scheme, so the scheme is pinned here and written into every serialized signature and into the
store's metadata; a store built with other parameters is refused, not silently misread.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from ..errors import InvalidArgumentError
from . import kernels
from .salient import SalientTerms, TokenTable, tokenize

#: datasketch permutation scheme: affine maps on 32-bit values after a MurmurHash3 pre-mix.
#: Pinned because datasketch 2.0 changed its default (from "legacy"); 32-bit keeps
#: signatures half the size of affine64 at no measurable loss for sets of a few hundred items.
HASH_SCHEME = "affine32"
#: Seed of datasketch's permutation generator. Changing it invalidates every stored signature.
SEED = 1
#: Permutations of the duplicate sketch. 128 gives a Jaccard standard error of about 0.04 at
#: J = 0.5, enough to tell a reprint (J > 0.5) from shared quotes (J < 0.2).
DUP_NUM_PERM = 128
#: Word n-gram size of duplicate shingles. 5-grams: templated phrases of a beat ("was taken to
#: a local hospital") are shorter, so two different stories share few 5-grams.
SHINGLE_WORDS = 5
#: Permutations of the salient-terms sketch (used only for candidates, so fewer suffice).
SALIENT_NUM_PERM = 32
#: LSH banding (bands, rows) per relation. Every band key is one row of the store's band
#: index, and each row lands on its own B-tree page, so keys per article are what an insert
#: costs: 40 in all. salient: one row per band (coverage of one event shares few terms:
#: J 0.1-0.2 on the seeds), and a candidate must share storage.MIN_SHARED_BANDS of them
#: (P = 0.84 at J = 0.1, 0.96 at J = 0.15). Copies share most salient minima too, so the dup
#: bands (over the first DUP_BANDS * DUP_ROWS permutations) are only a fallback for texts
#: with few salient terms: P = 0.4 at J = 0.5, 0.9 at J = 0.8.
DUP_BANDS, DUP_ROWS = 8, 4
SALIENT_BANDS, SALIENT_ROWS = 32, 1
#: A text with at least this many strong terms gets no dup band keys: a copy shares nearly all
#: its strong terms, hence (P > 0.999 from 8 terms on) some of its 32 salient minima, so the dup
#: bands would only cost 8 more index writes per add (a fifth of them). Texts poorer in names,
#: places and numbers keep them. On stories-dev, dropping the dup bands altogether changed no
#: verdict and no reprint check.
DUP_KEYS_BELOW_STRONG = 8
#: At most this many salient terms are kept per article (the heaviest first), which bounds
#: the signature size and the pair-scoring cost.
MAX_SALIENT_TERMS = 160
#: Term weights are stored as uint8: weight * WEIGHT_SCALE (a resolution of 0.005).
WEIGHT_SCALE = 200
#: Only terms at least this heavy enter the salient sketch (candidates): common words would
#: make every article of a city a candidate of every other.
CANDIDATE_MIN_WEIGHT = 0.45
#: Format version of :meth:`Signature.to_bytes`.
FORMAT_VERSION = 2
#: Relation tags mixed into band keys, so a dup band never meets a salient band.
REL_DUP, REL_SALIENT = 1, 2

PARAMS: dict[str, str] = {
    "format": str(FORMAT_VERSION),
    "scheme": HASH_SCHEME,
    "seed": str(SEED),
    "dup_num_perm": str(DUP_NUM_PERM),
    "shingle_words": str(SHINGLE_WORDS),
    "salient_num_perm": str(SALIENT_NUM_PERM),
    "dup_bands": f"{DUP_BANDS}x{DUP_ROWS}",
    "salient_bands": f"{SALIENT_BANDS}x{SALIENT_ROWS}",
    "word_hash": "xxh32(utf8(lower(word)), seed=0)",
    "candidate_min_weight": str(CANDIDATE_MIN_WEIGHT),
    "dup_keys_below_strong": str(DUP_KEYS_BELOW_STRONG),
}
"""Everything that must match between a store and the code reading it."""

_STRONG_WEIGHT = round(CANDIDATE_MIN_WEIGHT * WEIGHT_SCALE)
# Multipliers that combine a shingle's word hashes (uint64 wrap-around arithmetic), one per
# position so that word order matters. Fixed odd constants: part of the hash scheme.
_SHINGLE_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                          0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5, 0xFF51AFD7ED558CCD,
                          0xC4CEB9FE1A85EC53, 0x94D049BB133111EB][:SHINGLE_WORDS], dtype=np.uint64)


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # Same generator and draw order as datasketch.MinHash._init_permutations for affine32.
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_DUP_A, _DUP_B = _permutations(DUP_NUM_PERM)
_SAL_A, _SAL_B = _permutations(SALIENT_NUM_PERM)


def _minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min over ``hashes`` of a * fmix32(h) + b (mod 2**32) for each permutation (compiled:
    :func:`.kernels.minhash`). Duplicate hashes change nothing."""
    return kernels.minhash(hashes.astype(np.uint32, copy=False), a, b)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, the unit of shingling."""
    return [t.lower() for t in tokenize(text).toks]


def _word_hash(word: str) -> int:
    # surrogatepass: the same bytes for every valid string, and no error for a lone surrogate
    # (signature() takes any str; the index refuses text it could not store).
    return xxhash.xxh32_intdigest(word.lower().encode("utf-8", "surrogatepass"))


# Word hashes live in the salient module's token memo, next to what each token is, so a text
# looks each token up once for both (see salient.TokenTable); the hash stays defined here.
_TOKENS = TokenTable(key=_word_hash)


def shingle_hashes(text: str) -> np.ndarray:
    """Distinct 32-bit hashes of the text's word ``SHINGLE_WORDS``-grams (a text shorter than
    that is one shingle)."""
    return _shingles(_TOKENS.keys(text))


def _shingles(wh: np.ndarray) -> np.ndarray:
    """Distinct shingle hashes from the word hashes (uint64) of a text's tokens (compiled:
    :func:`.kernels.shingles`)."""
    return kernels.shingles(wh, _SHINGLE_MULT)


def salient_hashes(text: str, source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and quantised weights (uint8, weight * WEIGHT_SCALE) of the text's salient
    terms, sorted by hash and distinct."""
    return _salient(_TOKENS.salient(tokenize(text), source))


def _salient(found: SalientTerms) -> tuple[np.ndarray, np.ndarray]:
    hashes, weights = found.term_keys, found.weights
    if weights.shape[0] > MAX_SALIENT_TERMS:
        # Keep the heaviest; ties broken by term so the choice is deterministic.
        terms, ws = found.terms(), weights.tolist()
        best = sorted(range(len(terms)), key=lambda i: (-ws[i], terms[i]))[:MAX_SALIENT_TERMS]
        hashes, weights = hashes[best], weights[best]
    hashes = hashes.astype(np.uint32)  # the term keys are word hashes: xxh32(term)
    scaled = weights * WEIGHT_SCALE
    weights = np.maximum(np.rint(scaled), 1).astype(np.uint8)
    order = np.lexsort((weights, hashes))
    hashes, weights = hashes[order], weights[order]
    if hashes.size > 1:  # distinct hashes (a 32-bit collision merges two terms)
        keep = np.concatenate(([True], hashes[1:] != hashes[:-1]))
        hashes, weights = hashes[keep], weights[keep]
    return hashes, weights


@dataclass(frozen=True, eq=False)
class Signature:
    """What the index keeps of an article to compare it: two sketches and its salient terms."""

    dup: np.ndarray  # uint32[DUP_NUM_PERM]
    salient: np.ndarray  # uint32[SALIENT_NUM_PERM]
    n_shingles: int
    terms: np.ndarray  # uint32[k], sorted
    term_weights: np.ndarray  # uint8[k], weight * WEIGHT_SCALE

    _HEAD = struct.Struct("<BBHHHI")  # version, scheme code, dup perms, salient perms, k, shingles

    def to_bytes(self) -> bytes:
        """Compact little-endian bytes: a header, the two sketches, the terms and weights."""
        head = self._HEAD.pack(FORMAT_VERSION, 1, DUP_NUM_PERM, SALIENT_NUM_PERM,
                               int(self.terms.shape[0]), int(self.n_shingles))
        return b"".join((head, self.dup.astype("<u4").tobytes(),
                         self.salient.astype("<u4").tobytes(),
                         self.terms.astype("<u4").tobytes(), self.term_weights.tobytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Signature":
        """Inverse of :meth:`to_bytes`; refuses bytes made with other parameters."""
        head = cls._HEAD
        if len(data) < head.size:
            raise InvalidArgumentError("signature bytes are truncated")
        version, scheme, dperm, sperm, k, n_sh = head.unpack_from(data)
        if (version, scheme, dperm, sperm) != (FORMAT_VERSION, 1, DUP_NUM_PERM, SALIENT_NUM_PERM):
            raise InvalidArgumentError(
                f"signature made with other parameters (format {version}, scheme code {scheme}, "
                f"num_perm {dperm}/{sperm}); expected format {FORMAT_VERSION}, {HASH_SCHEME}, "
                f"num_perm {DUP_NUM_PERM}/{SALIENT_NUM_PERM}: rebuild the index")
        expected = head.size + 4 * (dperm + sperm + k) + k
        if len(data) != expected:
            raise InvalidArgumentError(f"signature bytes have length {len(data)}, expected {expected}")
        off = head.size
        # Read-only views of ``data``: no copies, signatures are never modified in place.
        dup = np.frombuffer(data, "<u4", dperm, off)
        off += 4 * dperm
        sal = np.frombuffer(data, "<u4", sperm, off)
        off += 4 * sperm
        terms = np.frombuffer(data, "<u4", k, off)
        off += 4 * k
        weights = np.frombuffer(data, np.uint8, k, off)
        return cls(dup, sal, int(n_sh), terms, weights)

    def to_datasketch(self, relation: str = "dup") -> "object":
        """The sketch as a ``datasketch.LeanMinHash`` (for interoperability and tests)."""
        from datasketch import LeanMinHash, MinHash

        values = self.dup if relation == "dup" else self.salient
        m = MinHash(num_perm=values.shape[0], seed=SEED, scheme=HASH_SCHEME, hashvalues=values)
        return LeanMinHash(m)


@dataclass(frozen=True, eq=False)
class SignatureBatch:
    """Several signatures side by side, for scoring one article against many candidates in a
    few compiled loops: ``dup`` stacked (n x DUP_NUM_PERM), the terms and weights of all of them
    concatenated, ``lens`` the number of terms of each.

    ``starts`` and ``rows`` let a batch point into larger arrays without copying (the
    in-memory candidate index keeps every article's sketch and terms in such arrays):
    signature i has the sketch ``dup[rows[i]]`` and the terms
    ``terms[starts[i]:starts[i] + lens[i]]``. By default they are the plain layout above."""

    dup: np.ndarray  # uint32[*, DUP_NUM_PERM]
    n_shingles: np.ndarray  # float64[n]
    terms: np.ndarray  # uint32[*]
    term_weights: np.ndarray  # uint8[*]
    lens: np.ndarray  # int64[n]
    starts: np.ndarray = None  # type: ignore[assignment]  # int64[n], default cumsum(lens) - lens
    rows: np.ndarray = None  # type: ignore[assignment]  # int64[n], default 0..n-1

    def __post_init__(self) -> None:
        if self.starts is None:
            object.__setattr__(self, "starts", np.cumsum(self.lens) - self.lens)
        if self.rows is None:
            object.__setattr__(self, "rows", np.arange(self.lens.shape[0], dtype=np.int64))

    def __len__(self) -> int:
        return int(self.lens.shape[0])

    @classmethod
    def from_signatures(cls, sigs: Sequence[Signature]) -> "SignatureBatch":
        n = len(sigs)
        if n == 0:
            return cls(np.zeros((0, DUP_NUM_PERM), np.uint32), np.zeros(0), np.zeros(0, np.uint32),
                       np.zeros(0, np.uint8), np.zeros(0, np.int64))
        return cls(np.stack([s.dup for s in sigs]),
                   np.fromiter((s.n_shingles for s in sigs), np.float64, n),
                   np.concatenate([s.terms for s in sigs]),
                   np.concatenate([s.term_weights for s in sigs]),
                   np.fromiter((s.terms.shape[0] for s in sigs), np.int64, n))

    @classmethod
    def from_bytes(cls, blobs: Sequence[bytes]) -> "SignatureBatch":
        """Many :meth:`Signature.to_bytes` at once (candidates read from a store): headers
        checked in one numpy pass, each field gathered into one array by a kernel. A blob made with other
        parameters is refused as :meth:`Signature.from_bytes` refuses it."""
        n = len(blobs)
        if n == 0:
            return cls.from_signatures([])
        lens = np.fromiter(map(len, blobs), np.int64, n)
        if int(lens.min()) < _HEAD_SIZE:
            raise InvalidArgumentError("signature bytes are truncated")
        buf = np.frombuffer(b"".join(blobs), np.uint8)
        starts = np.cumsum(lens) - lens
        head = buf[starts[:, None] + np.arange(_HEAD_SIZE)].view(_HEAD_DTYPE).reshape(n)
        k = head["k"].astype(np.int64)
        ok = ((head["version"] == FORMAT_VERSION) & (head["scheme"] == 1)
              & (head["dup_perm"] == DUP_NUM_PERM) & (head["sal_perm"] == SALIENT_NUM_PERM)
              & (lens == _TERMS_AT + 5 * k))
        if not ok.all():
            Signature.from_bytes(blobs[int(np.argmin(ok))])  # raises the precise error
        dup, terms, weights = kernels.gather_signatures(buf, starts, k, _HEAD_SIZE, DUP_NUM_PERM,
                                                        _TERMS_AT)
        return cls(dup, head["n_shingles"].astype(np.float64), terms, weights, k)


_HEAD_DTYPE = np.dtype([("version", "u1"), ("scheme", "u1"), ("dup_perm", "<u2"),
                        ("sal_perm", "<u2"), ("k", "<u2"), ("n_shingles", "<u4")])
_HEAD_SIZE = _HEAD_DTYPE.itemsize
_TERMS_AT = _HEAD_SIZE + 4 * (DUP_NUM_PERM + SALIENT_NUM_PERM)
assert _HEAD_SIZE == Signature._HEAD.size


def signature(text: str, source: str | None = None) -> Signature:
    """The signature of one cleaned article text; ``source`` (outlet or host) keeps the
    outlet's own name out of the salient terms."""
    if not isinstance(text, str):
        raise InvalidArgumentError(f"text must be a str, got {type(text).__name__}")
    found = _TOKENS.scan_salient(text, source)
    sh = _shingles(found.token_keys)
    terms, weights = _salient(found)
    strong = terms[weights >= _STRONG_WEIGHT]
    return Signature(dup=_minhash(sh, _DUP_A, _DUP_B), salient=_minhash(strong, _SAL_A, _SAL_B),
                     n_shingles=int(sh.shape[0]), terms=terms, term_weights=weights)


def _band_keys(values: np.ndarray, bands: int, rows: int, rel: int) -> list[int]:
    out = []
    raw = values.astype("<u4").tobytes()
    step = 4 * rows
    for i in range(bands):
        d = xxhash.xxh64_intdigest(raw[i * step:(i + 1) * step], seed=(rel << 16) | i)
        out.append(d - (1 << 64) if d >= (1 << 63) else d)  # signed: fits SQL BIGINT
    return out


def strong_terms(sig: Signature) -> int:
    """How many of the signature's terms entered its salient sketch."""
    return int(np.count_nonzero(sig.term_weights >= _STRONG_WEIGHT))


def band_keys(sig: Signature, relation: str | None = None) -> list[int]:
    """LSH band keys (signed 64-bit ints) of the signature: dup bands (only for a text with
    fewer than DUP_KEYS_BELOW_STRONG strong terms) then salient bands, or only those of
    ``relation`` ("duplicate" or "same_story"). An empty sketch has no keys."""
    keys: list[int] = []
    if relation in (None, "duplicate") and sig.n_shingles and strong_terms(sig) < DUP_KEYS_BELOW_STRONG:
        keys += _band_keys(sig.dup, DUP_BANDS, DUP_ROWS, REL_DUP)
    if relation in (None, "same_story") and int(sig.salient.min()) != 0xFFFFFFFF:
        keys += _band_keys(sig.salient, SALIENT_BANDS, SALIENT_ROWS, REL_SALIENT)
    return keys


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """MinHash estimate of the Jaccard similarity of two sketches."""
    return float(np.count_nonzero(a == b)) / a.shape[0]
