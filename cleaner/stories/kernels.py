"""Compiled (numba) inner loops of a signature: scanning a text into tokens, finding each
token's row in the token table, and the min-hashes.

They compute exactly what the plain Python and numpy code of :mod:`.salient` and
:mod:`.signatures` computes (tests check it token for token and bit for bit); they only do it
in one pass over the text's UTF-8 bytes instead of a dozen, with a memory access per token
instead of three. What a token *is* (name, number, rare word) is still decided in Python, once
per distinct token, when a scan meets a token it has not seen.

Numba compiles these on first use and keeps the machine code in its cache (``__pycache__``
beside this file, or the user's cache directory when that is read-only), so only the first
process after an install pays the compile time (about ten seconds). Where no cache can be
written at all, every process compiles them once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Character classes of the scanner: part of a token, a separator between tokens, or a
#: break (a separator that also ends a sentence, line, quotation or clause).
TOKEN, SEPARATOR, BREAK = 0, 1, 2


def _jit(fn):  # type: ignore[no-untyped-def]
    """``njit`` with numba's on-disk cache, or without it where numba finds no place it may
    write one (a read-only install, no writable home, no NUMBA_CACHE_DIR): then each process
    compiles for itself instead of the import failing."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:
        return njit(fn)


_M32 = np.uint64(0xFFFFFFFF)
_EMPTY = np.uint64(0)


def char_classes(separators: str, breaks: str) -> np.ndarray:
    """The class of every code point of the Basic Multilingual Plane (the planes above hold
    no separator: their code points are all TOKEN): ``breaks`` are BREAK, ``separators`` and
    every character ``str.split()`` splits at are SEPARATOR."""
    cls = np.zeros(0x10000, np.uint8)
    for cp in range(0x10000):
        if chr(cp).isspace():
            cls[cp] = SEPARATOR
    for c in separators:
        cls[ord(c)] = SEPARATOR
    for c in breaks:
        cls[ord(c)] = BREAK
    return cls


@_jit
def _mix64(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # splitmix64's finaliser: every input bit reaches every output bit.
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@_jit
def _probe(keys: np.ndarray, h: np.uint64) -> int:  # pragma: no cover - compiled
    # Slot of h in an open-addressing table (linear probing): where it is, or the empty
    # slot where it would go. The table is never full (salient._Rows.index_hash keeps it at
    # most half full).
    mask = np.uint64(keys.shape[0] - 1)
    i = h & mask
    while True:
        k = keys[i]
        if k == h or k == _EMPTY:
            return int(i)
        i = (i + np.uint64(1)) & mask


@_jit
def scan(buf: np.ndarray, cls: np.ndarray, seed: np.uint64, keys: np.ndarray,
         vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Tokens of UTF-8 text ``buf``: maximal runs of TOKEN characters. Returns, per token,
    its first and past-the-end byte, its hash (seeded FNV-1a, mixed; never 0) and its row
    in the (keys, vals) table (-1 when absent); and the indexes of the tokens that open a
    segment (the first token after the text's start or a BREAK)."""
    n = buf.shape[0]
    cap = n // 2 + 1
    begin = np.empty(cap, np.int64)
    end = np.empty(cap, np.int64)
    hashes = np.empty(cap, np.uint64)
    rows = np.empty(cap, np.int64)
    starts = np.empty(cap, np.int64)
    count = 0
    n_starts = 0
    seg_open = True  # no token yet in the current segment
    in_tok = False
    h = seed
    i = 0
    while i <= n:
        if i == n:
            c = SEPARATOR
            width = 1
        else:
            b0 = buf[i]
            if b0 < 0x80:
                cp = np.int64(b0)
                width = 1
            elif b0 < 0xE0:
                cp = ((np.int64(b0) & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F)
                width = 2
            elif b0 < 0xF0:
                cp = (((np.int64(b0) & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6)
                      | (np.int64(buf[i + 2]) & 0x3F))
                width = 3
            else:
                cp = 0x10000  # above the BMP: always part of a token
                width = 4
            c = cls[cp] if cp < 0x10000 else TOKEN
        if c == TOKEN:
            if not in_tok:
                in_tok = True
                begin[count] = i
                h = seed
                if seg_open:
                    starts[n_starts] = count
                    n_starts += 1
                    seg_open = False
            for j in range(i, i + width):
                h = (h ^ np.uint64(buf[j])) * np.uint64(0x100000001B3)
        else:
            if in_tok:
                in_tok = False
                end[count] = i
                h = _mix64(h)
                if h == _EMPTY:
                    h = np.uint64(1)
                hashes[count] = h
                slot = _probe(keys, h)
                rows[count] = vals[slot] if keys[slot] == h else -1
                count += 1
            if c == BREAK:
                seg_open = True
        i += width
    return begin[:count], end[:count], hashes[:count], rows[:count], starts[:n_starts]


@_jit
def insert(keys: np.ndarray, vals: np.ndarray, h: np.uint64, row: int) -> bool:  # pragma: no cover - compiled
    """Put h -> row in the table; False if h was there already (its row is kept)."""
    slot = _probe(keys, h)
    if keys[slot] == h:
        return False
    keys[slot] = h
    vals[slot] = row
    return True


@_jit
def rehash(keys: np.ndarray, vals: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The same entries in a table of ``capacity`` slots (a power of two)."""
    new_keys = np.zeros(capacity, np.uint64)
    new_vals = np.zeros(capacity, np.int32)
    for i in range(keys.shape[0]):
        h = keys[i]
        if h != _EMPTY:
            slot = _probe(new_keys, h)
            new_keys[slot] = h
            new_vals[slot] = vals[i]
    return new_keys, new_vals


@_jit
def _fmix32(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # MurmurHash3's 32-bit finaliser, as datasketch applies it before its permutations.
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return h


@_jit
def minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """min over ``hashes`` (uint32) of (a * fmix32(h) + b) mod 2**32, per permutation (a, b:
    uint32 arrays): datasketch's affine32 MinHash of those values."""
    num_perm = a.shape[0]
    out = np.full(num_perm, np.uint32(0xFFFFFFFF), np.uint32)
    for i in range(hashes.shape[0]):
        hv = np.uint32(_fmix32(np.uint64(hashes[i])))
        for p in range(num_perm):
            v = np.uint32(a[p] * hv + b[p])
            if v < out[p]:
                out[p] = v
    return out


@_jit
def shingles(token_keys: np.ndarray, mult: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Distinct shingle hashes (uint32, sorted) of a text whose tokens have the word hashes
    ``token_keys`` (uint64): per window of len(mult) tokens (the whole text if shorter), the
    top 32 bits of sum(key * mult) mod 2**64."""
    n = token_keys.shape[0]
    if n == 0:
        return np.zeros(0, np.uint32)
    k = min(mult.shape[0], n)
    m = n - k + 1
    out = np.empty(m, np.uint32)
    for i in range(m):
        acc = np.uint64(0)
        for j in range(k):
            acc += token_keys[i + j] * mult[j]
        out[i] = np.uint32(acc >> np.uint64(32))
    out.sort()
    d = 0
    for i in range(m):
        if i == 0 or out[i] != out[d - 1]:
            out[d] = out[i]
            d += 1
    return out[:d]


@_jit
def salient_rows(ids: np.ndarray, starts: np.ndarray, flags: np.ndarray, term: np.ndarray,
                 weight: np.ndarray, exclude: np.ndarray, scored_flag: int, lower_flag: int,
                 name_flag: int, name_if_mid_flag: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The distinct salient terms (rows of the token table, ascending) of a text whose tokens
    are rows ``ids``, with the weight of each term's first occurrence (scored tokens first,
    then names): see :meth:`.salient.TokenTable.salient` for the rule."""
    n = ids.shape[0]
    at_start = np.zeros(n, np.bool_)
    for s in starts:
        at_start[s] = True
    found = np.empty(2 * n, np.int64)  # scored terms, then names
    found_w = np.empty(2 * n, np.float64)
    lower = np.empty(n, np.int64)
    n_found = 0
    n_lower = 0
    for i in range(n):
        r = ids[i]
        f = flags[r]
        if f & scored_flag:
            found[n_found] = term[r]
            found_w[n_found] = weight[r]
            n_found += 1
        if f & lower_flag:
            lower[n_lower] = term[r]
            n_lower += 1
    lower = np.sort(lower[:n_lower])
    for i in range(n):
        r = ids[i]
        allowed = name_flag if at_start[i] else name_flag | name_if_mid_flag
        if flags[r] & allowed:
            t = term[r]
            # A name the text also writes in lower case is no name.
            if n_lower:
                at = np.searchsorted(lower, t)
                if at < n_lower and lower[at] == t:
                    continue
            found[n_found] = t
            found_w[n_found] = weight[r]
            n_found += 1
    keep = np.ones(n_found, np.bool_)
    for i in range(n_found):
        for x in exclude:
            if found[i] == x:
                keep[i] = False
    found = found[:n_found][keep]
    found_w = found_w[:n_found][keep]
    order = np.argsort(found, kind="mergesort")  # stable: the first occurrence leads
    terms = np.empty(order.shape[0], np.int64)
    weights = np.empty(order.shape[0], np.float64)
    d = 0
    for o in order:
        if d == 0 or found[o] != terms[d - 1]:
            terms[d] = found[o]
            weights[d] = found_w[o]
            d += 1
    return terms[:d], weights[:d]


@_jit
def gather_signatures(buf: np.ndarray, starts: np.ndarray, ks: np.ndarray, dup_at: int,
                      num_perm: int, terms_at: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The dup sketches (n x num_perm), terms and term weights (concatenated) of n serialized
    signatures laid end to end in ``buf`` (blob i starts at starts[i] and holds ks[i] terms;
    fields little-endian, at the offsets of Signature.to_bytes; headers already checked)."""
    n = starts.shape[0]
    dup = np.empty((n, num_perm), np.uint32)
    terms = np.empty(ks.sum(), np.uint32)
    weights = np.empty(terms.shape[0], np.uint8)
    t = 0
    for i in range(n):
        s = starts[i] + dup_at
        dup[i, :] = buf[s:s + 4 * num_perm].view(np.uint32)
        s = starts[i] + terms_at
        k = ks[i]
        terms[t:t + k] = buf[s:s + 4 * k].view(np.uint32)
        weights[t:t + k] = buf[s + 4 * k:s + 5 * k]
        t += k
    return dup, terms, weights


#: A sum of at most a few thousand 32-bit values never reaches this.
_UNREACHABLE = 1 << 62


@_jit
def _touch(terms: np.ndarray, weights: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> int:  # pragma: no cover - compiled
    # Read one value per cache line of every candidate's terms and weights before the real
    # loops: these loads do not depend on each other, so the CPU has many of them in flight
    # at once, where the real loops would wait for each candidate's first line in turn (the
    # candidates lie anywhere in an index of many megabytes). The sum only keeps the loads.
    acc = 0
    for i in range(starts.shape[0]):
        for t in range(starts[i], starts[i] + lens[i], 16):
            acc += terms[t]
        for t in range(starts[i], starts[i] + lens[i], 64):
            acc += weights[t]
    return acc


@_jit
def _term_slot(term: np.uint32, bits: int) -> int:  # pragma: no cover - compiled
    # Home slot of a 32-bit term in a table of 2**bits slots (multiplicative hashing).
    return int((np.uint64(term) * np.uint64(0x9E3779B1)) >> np.uint64(32 - bits)) & ((1 << bits) - 1)


@_jit
def _table_bits(n: int) -> int:  # pragma: no cover - compiled
    # log2 of the smallest open-addressing table (at least 16 slots) that n keys fill at most
    # half: probes then nearly always end at their first or second slot.
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    return bits


#: a's terms also go into a filter of 2**FILTER_BITS bits (one per term), tested before the
#: table is probed: on news, 97% of a candidate's terms are not a's, and the filter turns
#: them away with one load and a branch the CPU predicts, where a probe of the table (a
#: quarter full) took a mispredicted branch about every third term.
FILTER_BITS = 12


@_jit
def _filter_bit(term: np.uint32) -> int:  # pragma: no cover - compiled
    return _term_slot(term, FILTER_BITS)


@_jit
def overlaps(a_terms: np.ndarray, a_weights: np.ndarray, o_terms: np.ndarray, o_weights: np.ndarray,
             starts: np.ndarray, lens: np.ndarray, labels: np.ndarray, n_labels: int,
             spread_weight: float, spread_free: int, min_shared: float,
             mix: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Salient overlap of article a with each of n others (other i holds the terms
    ``o_terms[starts[i]:starts[i] + lens[i]]``, sorted), and the spread factor of each of a's
    terms; see :func:`.rule.score_batch` for the rule. ``labels``: the story of each other as
    0..n_labels-1 (n_labels 0: no spread weighting). Weights stay in their stored units."""
    n = lens.shape[0]
    k = a_terms.shape[0]
    out = np.zeros(n)
    factor = np.ones(k)
    if k == 0 or n == 0:
        return out, factor
    # a's terms in a small open-addressing table (at most half full) and in the filter.
    bits = _table_bits(k)
    mask = (1 << bits) - 1
    table_key = np.zeros(1 << bits, np.uint32)
    table_pos = np.full(1 << bits, -1, np.int64)
    bloom = np.zeros(1 << (FILTER_BITS - 6), np.uint64)
    for p in range(k):
        j = _term_slot(a_terms[p], bits)
        while table_pos[j] >= 0:
            j = (j + 1) & mask
        table_key[j] = a_terms[p]
        table_pos[j] = p
        b = _filter_bit(a_terms[p])
        bloom[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    if _touch(o_terms, o_weights, starts, lens) == _UNREACHABLE:  # keeps the loads
        return out, factor
    # One pass over the others' terms: each other's total weight, and the terms a holds (the
    # hits: where the term lies, and its place in a), in order. Hits are few, so the later
    # passes only read them. (The hit arrays are sized for the most hits there can be, one
    # per term, whatever the terms hold: arrays grown inside this loop made it 8x slower.)
    total = 0
    for i in range(n):
        total += lens[i]
    hit_at = np.empty(total, np.int64)
    hit_p = np.empty(total, np.int64)
    hit_end = np.zeros(n, np.int64)  # other i's hits end here
    plain = np.zeros(n, np.int64)
    h = 0
    for i in range(n):
        weight = 0
        for t in range(starts[i], starts[i] + lens[i]):
            v = o_terms[t]
            weight += o_weights[t]
            b = _filter_bit(v)
            if (bloom[b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
                j = _term_slot(v, bits)
                while table_pos[j] >= 0:
                    if table_key[j] == v:
                        hit_at[h] = t
                        hit_p[h] = table_pos[j]
                        h += 1
                        break
                    j = (j + 1) & mask
        plain[i] = weight
        hit_end[i] = h
    if n_labels > 0:
        # Number of distinct stories whose candidates hold each of a's terms.
        held = np.zeros((k, n_labels), np.bool_)
        spread = np.zeros(k, np.int64)
        x = 0
        for i in range(n):
            label = labels[i]
            while x < hit_end[i]:
                p = hit_p[x]
                if not held[p, label]:
                    held[p, label] = True
                    spread[p] += 1
                x += 1
        for p in range(k):
            if spread[p] > spread_free:  # (at or under it the factor is 1)
                factor[p] = 1.0 / (1.0 + spread_weight * np.log1p(spread[p] - spread_free))
    total_a = 0.0
    for p in range(k):
        total_a += np.float64(a_weights[p]) * factor[p]
    x = 0
    for i in range(n):
        enough = 0.0
        shared = 0.0
        weighted = 0.0  # the hits' weights, with their spread factors
        hit_weight = 0
        while x < hit_end[i]:
            w = o_weights[hit_at[x]]
            p = hit_p[x]
            common = min(np.float64(w), np.float64(a_weights[p]))
            enough += common
            shared += common * factor[p]
            weighted += np.float64(w) * factor[p]
            hit_weight += w
            x += 1
        total = np.float64(plain[i] - hit_weight) + weighted
        small = min(total, total_a)
        large = max(total, total_a)
        if enough > min_shared and small > 0:
            out[i] = shared / (small ** (1.0 - mix) * large ** mix)
    return out, factor


@_jit
def dup_agreement(a_dup: np.ndarray, dup: np.ndarray, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """For each of ``rows``, how many of the sketch ``dup[row]``'s minima equal a's."""
    out = np.zeros(rows.shape[0], np.int64)
    acc = 0
    for i in range(rows.shape[0]):  # one load per cache line first: see _touch
        for j in range(0, dup.shape[1], 16):
            acc += dup[rows[i], j]
    for i in range(rows.shape[0]):
        r = rows[i]
        c = 0
        for j in range(a_dup.shape[0]):
            c += dup[r, j] == a_dup[j]
        out[i] = c
    if acc == _UNREACHABLE:  # uses the sum, so the compiler keeps the loads
        out[0] = -1
    return out


@_jit
def posting_tails(keys: np.ndarray, slots: np.ndarray, alive: np.ndarray, query: np.ndarray,
                  need: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """For each key of ``query``, the last ``need[i]`` live slots filed under it in the sorted
    posting arrays (``keys`` ascending, then ``slots`` ascending within a key): a key's most
    recent articles, newest first, skipping removed ones."""
    nq = query.shape[0]
    # The end of each key's run (first position holding a larger key), by binary searches
    # run side by side, one step of each in turn: the loads of one round do not depend on
    # each other, so the CPU overlaps their cache misses (the arrays hold millions of keys).
    lo = np.zeros(nq, np.int64)
    hi = np.full(nq, keys.shape[0], np.int64)
    active = True
    while active:
        active = False
        for i in range(nq):
            if lo[i] < hi[i]:
                mid = (lo[i] + hi[i]) >> 1
                if keys[mid] <= query[i]:
                    lo[i] = mid + 1
                else:
                    hi[i] = mid
                active = True
    out = np.empty(int(need.sum()), np.int32)
    n = 0
    for i in range(nq):
        q = query[i]
        j = lo[i] - 1
        taken = 0
        while j >= 0 and keys[j] == q and taken < need[i]:
            s = slots[j]
            if alive[s]:
                out[n] = s
                n += 1
                taken += 1
            j -= 1
    return out[:n]


@_jit
def merge_postings(keys: np.ndarray, slots: np.ndarray, new_keys: np.ndarray,
                   new_slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Both sorted posting arrays in one, sorted by key; for equal keys the first arrays'
    entries (older articles) come first. One linear pass."""
    n, m = keys.shape[0], new_keys.shape[0]
    out_k = np.empty(n + m, keys.dtype)
    out_s = np.empty(n + m, slots.dtype)
    i = j = o = 0
    while i < n and j < m:
        if new_keys[j] < keys[i]:
            out_k[o] = new_keys[j]
            out_s[o] = new_slots[j]
            j += 1
        else:
            out_k[o] = keys[i]
            out_s[o] = slots[i]
            i += 1
        o += 1
    while i < n:
        out_k[o] = keys[i]
        out_s[o] = slots[i]
        i += 1
        o += 1
    while j < m:
        out_k[o] = new_keys[j]
        out_s[o] = new_slots[j]
        j += 1
        o += 1
    return out_k, out_s


@_jit
def choose_candidates(found: np.ndarray, label: np.ndarray, min_shared: int,
                      limit: int) -> tuple[np.ndarray, np.ndarray, int]:  # pragma: no cover - compiled
    """The candidates of a lookup. ``found`` holds a slot once per band key it shares with the
    new article (any order). Of the slots found at least ``min_shared`` times, the ``limit``
    found most often, ties going to the newest (highest slot: slots are handed out in pk
    order), are returned in ascending order, with their stories (``label[slot]``) renumbered
    0..n_labels-1 in ascending label order: (slots, labels, n_labels)."""
    nf = found.shape[0]
    # Count the slots in a small open-addressing table (at most half full): no sort of the
    # found list, which holds up to a few thousand entries for about 128 kept.
    bits = _table_bits(nf)
    mask = (1 << bits) - 1
    held = np.zeros(1 << bits, np.int64)  # slot + 1; 0: empty
    count = np.zeros(1 << bits, np.int64)
    where = np.empty(nf, np.int64)  # table positions of the distinct slots
    m = 0
    most = 0
    for i in range(nf):
        s = np.int64(found[i]) + 1
        j = _term_slot(np.uint32(s), bits)
        while held[j] != 0 and held[j] != s:
            j = (j + 1) & mask
        if held[j] == 0:
            held[j] = s
            where[m] = j
            m += 1
        count[j] += 1
        most = max(most, count[j])
    # Take whole groups of equal count, most first, while they fit; of the group that does
    # not fit (`partial`), the newest slots that do.
    per_count = np.zeros(most + 1, np.int64)
    for t in range(m):
        per_count[count[where[t]]] += 1
    taken = 0
    partial = 0
    for c in range(most, max(min_shared, 1) - 1, -1):
        if taken + per_count[c] > limit:
            partial = c
            break
        taken += per_count[c]
    chosen = np.empty(min(m, limit), np.int64)
    group = np.empty(per_count[partial] if partial else 0, np.int64)
    k = g = 0
    for t in range(m):
        c = count[where[t]]
        if c >= min_shared and c > partial:
            chosen[k] = held[where[t]] - 1
            k += 1
        elif partial and c == partial:
            group[g] = held[where[t]] - 1
            g += 1
    if partial:
        rest = limit - k
        newest = np.partition(group, g - rest)[g - rest:] if rest > 0 else group[:0]
        chosen[k:k + rest] = newest
        k += rest
    chosen = np.sort(chosen[:k])
    lab = label[chosen]
    distinct = np.unique(lab)
    return chosen, np.searchsorted(distinct, lab).astype(np.int64), distinct.shape[0]


@_jit
def _chain_slot(table_key: np.ndarray, table_head: np.ndarray, key: np.int64) -> int:  # pragma: no cover - compiled
    # Slot of ``key`` in the table of recent band keys, or the empty slot where it would go.
    mask = table_key.shape[0] - 1
    j = key & mask
    while table_head[j] >= 0 and table_key[j] != key:
        j = (j + 1) & mask
    return j


@_jit
def recent_insert(table_key: np.ndarray, table_head: np.ndarray, entry_key: np.ndarray,
                  entry_slot: np.ndarray, entry_next: np.ndarray, used: int, keys: np.ndarray,
                  slots: np.ndarray) -> int:  # pragma: no cover - compiled
    """File ``slots[i]`` under ``keys[i]``, in order, in the table of recent band keys: an
    open-addressing table (``table_key``, a power of two long, at most half full; band keys
    are hashes, so their low bits place them) whose ``table_head`` is the newest entry of the
    key's chain (-1: empty slot); each entry links to the key's previous entry. Returns the
    number of entries used."""
    for q in range(keys.shape[0]):
        key = keys[q]
        j = _chain_slot(table_key, table_head, key)
        table_key[j] = key
        entry_key[used] = key
        entry_slot[used] = slots[q]
        entry_next[used] = table_head[j]
        table_head[j] = used
        used += 1
    return used


@_jit
def recent_tails(table_key: np.ndarray, table_head: np.ndarray, entry_slot: np.ndarray,
                 entry_next: np.ndarray, alive: np.ndarray, query: np.ndarray,
                 limit: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """For each key of ``query``, its newest ``limit`` live slots in the table of recent band
    keys (see :func:`recent_insert`), newest first; and how many more each key may take from
    the older, sorted postings (``limit`` minus those found)."""
    out = np.empty(query.shape[0] * limit, np.int32)
    need = np.full(query.shape[0], limit, np.int64)
    n = 0
    for i in range(query.shape[0]):
        e = table_head[_chain_slot(table_key, table_head, query[i])]
        while e >= 0 and need[i] > 0:
            s = entry_slot[e]
            if alive[s]:
                out[n] = s
                n += 1
                need[i] -= 1
            e = entry_next[e]
    return out[:n], need
