"""The candidate index of one namespace, held in process memory and mirrored from the store.

An add looks up the articles that share its LSH band keys and scores up to
``storage.MAX_CANDIDATES`` of them. Reading those from the store cost most of an add (a B-tree
seek per band key, then one per candidate row, and the posting-list pages each add rewrote),
so every process keeps, per namespace it serves, what that lookup needs: each article's band
keys in sorted arrays, and its compact row (id, story, original, publication day, signature).

The store stays the only truth. Each row holds its band keys, so a mirror is built from the
rows alone, and it is brought up to date at the start of every read and write transaction, in
that transaction's snapshot:

* rows added since (``pk`` above the last one seen: a new row's pk is above every pk in the
  table when it is inserted, and writers are serialised) are appended;
* rows changed or deleted since (``remove()`` and the re-clustering it does) are listed in the
  store's ``changes`` log; the mirror re-reads those pks and takes the rows as they are now
  (which also covers a pk SQLite hands out again after the row that had it was deleted).

A process's own adds go into its mirror inside their write transaction (so that the next
article of an ``add_many`` batch sees them); if that transaction does not commit, the mirror
is dropped and built again from the store. Memory: see ``BYTES_PER_ARTICLE``; nothing is held for namespaces a
process never touches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from . import kernels
from .signatures import DUP_NUM_PERM, Signature, SignatureBatch

if TYPE_CHECKING:
    from .storage import Storage

#: Articles whose band keys wait in a small hash table before they are merged into the
#: sorted arrays (one linear merge for the whole batch, instead of a sort per add).
MERGE_EVERY = 2048
#: A mirror row as the storage reads it: (pk, ns, id, story, duplicate_of, days, sig, keys).
Row = tuple[int, int, str, str, "str | None", "float | None", bytes, bytes]
#: Band keys as stored in an article row (``articles.keys``): little-endian int64s.
KEYS_DTYPE = np.dtype("<i8")
#: Memory per mirrored article (600-word news, about 80 salient terms): the duplicate sketch
#: (512 bytes), the terms and weights (5 bytes each), 32-40 band keys in the sorted arrays (12
#: bytes each), the id, the per-article arrays and the spare room of arrays that double as they
#: grow. benchmarks/bench_stories.py measured 2,036-2,113 bytes at 200,000 articles (the
#: anonymous memory a new process's mirror added).
BYTES_PER_ARTICLE = 2_100


@dataclass(frozen=True, slots=True)
class Candidates:
    """The candidates of one lookup, in insertion order: their signatures side by side and
    what the clustering rule reads of each."""

    pks: np.ndarray  # int64[n]
    batch: SignatureBatch
    days: np.ndarray  # float64[n], NaN for an unknown date
    story_labels: np.ndarray  # int64[n]: their stories as 0..k-1 (equal labels, same story)
    _story_keys: np.ndarray  # int64[n]: the mirror's labels of their stories
    # What the rule reads of the few candidates it keeps, looked up on demand: the mirror's
    # per-slot lists at the time of the lookup (a compaction replaces them, it does not
    # change them; they are only written under the storage's lock, which the caller holds).
    slots: list[int]
    _ids: list[str | None]
    _dupof: list[str | None]
    _label_story: list[str]

    def __len__(self) -> int:
        return int(self.pks.shape[0])

    def id(self, i: int) -> str:
        return self._ids[self.slots[i]]  # type: ignore[return-value]

    def story(self, i: int) -> str:
        return self._label_story[int(self._story_keys[i])]

    def duplicate_of(self, i: int) -> str | None:
        return self._dupof[self.slots[i]]


_NO_CANDIDATES = Candidates(np.zeros(0, np.int64), SignatureBatch.from_signatures([]),
                            np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), [], [],
                            [], [])


class _RecentKeys:
    """The band keys of the articles added since the last merge, looked up by hash (compiled:
    see :func:`.kernels.recent_insert`), each key's articles newest first."""

    def __init__(self, entries: int = 1 << 11) -> None:
        self._table_key = np.zeros(1, np.int64)
        self._entry_key = np.zeros(0, np.int64)
        self._entry_slot = np.zeros(0, np.int32)
        self.used = 0
        self._grow(entries)

    def add(self, keys: np.ndarray, slot: int) -> None:
        self._file(keys, np.full(keys.shape[0], slot, np.int32))

    def _file(self, keys: np.ndarray, slots: np.ndarray) -> None:
        if self.used + keys.shape[0] > self._entry_key.shape[0]:
            self._grow(max(2 * self._entry_key.shape[0], self.used + keys.shape[0]))
        self.used = kernels.recent_insert(self._table_key, self._table_head, self._entry_key,
                                          self._entry_slot, self._entry_next, self.used,
                                          keys, slots)

    def _grow(self, entries: int) -> None:
        # Room for `entries` entries, in a table at least twice as long; the chains are
        # rebuilt by filing the entries again in their order.
        keys, slots = self.entries()
        size = self._table_key.shape[0]
        while size < 2 * entries:
            size *= 2
        self._table_key = np.zeros(size, np.int64)
        self._table_head = np.full(size, -1, np.int32)
        self._entry_key = np.zeros(entries, np.int64)
        self._entry_slot = np.zeros(entries, np.int32)
        self._entry_next = np.zeros(entries, np.int32)
        self.used = 0
        self._file(keys, slots)

    def tails(self, alive: np.ndarray, query: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        return kernels.recent_tails(self._table_key, self._table_head, self._entry_slot,
                                    self._entry_next, alive, query, limit)

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, slots) of every entry, in the order they were filed."""
        return self._entry_key[:self.used], self._entry_slot[:self.used]

    def clear(self) -> None:
        self._table_head.fill(-1)
        self.used = 0


class NamespaceMirror:
    """Band keys and compact rows of one namespace's articles, in this process."""

    def __init__(self, ns: int, per_key_limit: int, max_candidates: int, min_shared: int,
                 window: int) -> None:
        self.ns = ns
        self.window = window
        self.per_key_limit = per_key_limit
        self.max_candidates = max_candidates
        self.min_shared = min_shared
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._loaded = False
        self._last_pk = 0  # every row of ns with a pk up to this one is mirrored
        self._last_seq = 0  # every change logged up to this one is applied
        self._floor_pk = 0  # articles up to this pk fell out of the window
        self._oldest = 0  # no live slot below this one
        self._reset_rows(1024, 1024 * 80)
        # Band keys: sorted (key, slot) arrays, plus the keys of the latest articles in a hash table.
        self._keys = np.zeros(0, np.int64)
        self._slots = np.zeros(0, np.int32)
        self._recent = _RecentKeys()
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, their slots) of bulk loads
        self._pending_articles = 0

    def _reset_rows(self, cap: int, term_cap: int) -> None:
        # Per slot. Slots are handed out in arrival order (pk order) and never reused until a
        # compaction renumbers them all.
        self._n = 0
        self._dead = 0
        self._slot_of: dict[int, int] = {}  # pk -> slot
        self._pk = np.zeros(cap, np.int64)
        self._alive = np.zeros(cap, np.bool_)
        self._sighash = np.zeros(cap, np.uint64)  # tells a row re-read after a change apart
        self._label = np.zeros(cap, np.int64)  # story label (see _story_label)
        self._days = np.zeros(cap, np.float64)
        self._nsh = np.zeros(cap, np.float64)
        self._dupsk = np.zeros((cap, DUP_NUM_PERM), np.uint32)
        self._tstart = np.zeros(cap, np.int64)
        self._tlen = np.zeros(cap, np.int64)
        self._ids: list[str | None] = []
        self._dupof: list[str | None] = []
        # Salient terms of all slots, back to back (an arena).
        self._terms = np.zeros(term_cap, np.uint32)
        self._weights = np.zeros(term_cap, np.uint8)
        self._tused = 0
        self._story_label: dict[str, int] = {}
        self._label_story: list[str] = []

    # -- keeping up with the store ------------------------------------------------------------
    def sync(self, storage: "Storage", cur: Any) -> None:
        """Bring the mirror up to the snapshot of ``cur`` (a read or write transaction)."""
        with self._lock:
            changed = storage.changes_since(cur, self._last_seq) if self._loaded else []
            # A marker (pk -S) says the log no longer holds its changes up to S: a mirror that
            # had not read them all starts again from the store.
            if any(pk < 0 and -pk > self._last_seq for _seq, pk in changed):
                self._reset()
            if not self._loaded:
                self._last_seq = storage.last_change(cur)
                for rows in storage.mirror_rows_from(cur, self.ns,
                                                     storage.mirror_floor(cur, self.ns, self.window)):
                    self._load(rows)
                self._merge()
                self._loaded = True
                return
            if changed:
                self._last_seq = max(seq for seq, _pk in changed)
                pks = sorted({pk for _seq, pk in changed if pk >= 0})
                now = {r[0]: r for r in storage.mirror_rows_of(cur, pks)}
                for pk in pks:
                    self._replace(pk, now.get(pk))
            for row in storage.mirror_rows_after(cur, self.ns, self._last_pk):
                self._replace(row[0], row)

    def added(self, row: Row) -> None:
        """Our own add, inside its write transaction (so that the next article of a batch sees
        it): the transaction caught up with every earlier row under the write lock, so nothing
        of this namespace lies between those and this pk. If the transaction does not commit,
        the caller must :meth:`invalidate` the mirror."""
        with self._lock:
            if self._loaded and row[0] not in self._slot_of:
                self._append(row)

    def invalidate(self) -> None:
        """Forget everything (after a rolled-back write that had added rows): the next sync
        builds the mirror again from the store."""
        with self._lock:
            self._reset()

    def _replace(self, pk: int, row: Row | None) -> None:
        slot = self._slot_of.get(pk)
        if slot is not None:
            if (row is not None and row[1] == self.ns and row[2] == self._ids[slot]
                    and xxhash.xxh64_intdigest(bytes(row[6])) == int(self._sighash[slot])):
                self._label[slot] = self._labelled(row[3])  # re-clustered
                self._dupof[slot] = row[4]
                return
            self._kill(slot)  # deleted, or its pk now belongs to another row
        if row is not None and row[1] == self.ns and pk > self._floor_pk:
            self._append(row)

    def _labelled(self, story: str) -> int:
        label = self._story_label.get(story)
        if label is None:
            label = self._story_label[story] = len(self._label_story)
            self._label_story.append(story)
        return label

    def _kill(self, slot: int) -> None:
        del self._slot_of[int(self._pk[slot])]
        self._alive[slot] = False
        self._ids[slot] = self._dupof[slot] = None
        self._dead += 1

    def _evict_oldest(self) -> None:
        # The window is full: the oldest live article stops being a candidate (it stays in
        # the store), and a change to it later is not taken back in.
        slot = self._oldest
        while not self._alive[slot]:
            slot += 1
        self._floor_pk = max(self._floor_pk, int(self._pk[slot]))
        self._kill(slot)
        self._oldest = slot + 1

    def _grow(self, cap: int) -> None:
        for name in ("_pk", "_alive", "_sighash", "_label", "_days", "_nsh", "_tstart", "_tlen"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[:old.shape[0]] = old
            setattr(self, name, new)
        dup = np.zeros((cap, DUP_NUM_PERM), np.uint32)
        dup[:self._dupsk.shape[0]] = self._dupsk
        self._dupsk = dup

    def _put(self, slots: int, terms: np.ndarray, weights: np.ndarray) -> int:
        """Make room for ``slots`` more slots, append terms and weights to the arena; returns
        where they start."""
        if self._n + slots > self._pk.shape[0]:
            self._grow(max(2 * self._pk.shape[0], self._n + slots))
        k, at = terms.shape[0], self._tused
        if at + k > self._terms.shape[0]:
            cap = max(2 * self._terms.shape[0], at + k)
            self._terms = np.resize(self._terms, cap)
            self._weights = np.resize(self._weights, cap)
        self._terms[at:at + k] = terms
        self._weights[at:at + k] = weights
        self._tused = at + k
        return at

    def _append(self, row: Row) -> None:
        # One row, indexed at once (its keys in the table of recent keys). _load is the same for
        # many rows: it unpacks their signatures together, which costs ten times more for one.
        pk, _ns, id_, story, dupof, days, sig_bytes, keys = row
        sig_bytes = bytes(sig_bytes)
        sig = Signature.from_bytes(sig_bytes)
        slot = self._n
        self._tstart[slot] = self._put(1, sig.terms, sig.term_weights)
        self._tlen[slot] = sig.terms.shape[0]
        self._dupsk[slot] = sig.dup
        self._nsh[slot] = sig.n_shingles
        self._pk[slot] = pk
        self._alive[slot] = True
        self._sighash[slot] = xxhash.xxh64_intdigest(sig_bytes)
        self._label[slot] = self._labelled(story)
        self._days[slot] = np.nan if days is None else days
        self._ids.append(id_)
        self._dupof.append(dupof)
        self._n += 1
        self._slot_of[pk] = slot
        self._last_pk = max(self._last_pk, pk)
        if len(self._slot_of) > self.window:
            self._evict_oldest()
        self._recent.add(np.frombuffer(bytes(keys), KEYS_DTYPE).astype(np.int64), slot)
        self._pending_articles += 1
        if self._pending_articles >= MERGE_EVERY:
            self._merge()

    def _load(self, rows: list[Row]) -> None:
        """Append many rows at once (building the mirror): their signatures unpacked together,
        their band keys sorted in at the end."""
        n = len(rows)
        sigs = [bytes(r[6]) for r in rows]
        batch = SignatureBatch.from_bytes(sigs)
        first, end = self._n, self._n + n
        self._tstart[first:end] = self._put(n, batch.terms, batch.term_weights) + batch.starts
        self._tlen[first:end] = batch.lens
        self._dupsk[first:end] = batch.dup
        self._nsh[first:end] = batch.n_shingles
        pks = [int(r[0]) for r in rows]
        self._pk[first:end] = pks
        self._alive[first:end] = True
        self._sighash[first:end] = [xxhash.xxh64_intdigest(b) for b in sigs]
        self._label[first:end] = [self._labelled(r[3]) for r in rows]
        self._days[first:end] = [np.nan if r[5] is None else r[5] for r in rows]
        self._ids.extend(r[2] for r in rows)
        self._dupof.extend(r[4] for r in rows)
        self._slot_of.update(zip(pks, range(first, end)))
        self._n = end
        self._last_pk = max(self._last_pk, max(pks))
        keys = [np.frombuffer(bytes(r[7]), KEYS_DTYPE) for r in rows]
        self._pending.append((np.concatenate(keys), np.repeat(np.arange(first, end, dtype=np.int32),
                                                              [x.shape[0] for x in keys])))
        self._pending_articles += n

    def _merge(self) -> None:
        """Move the pending band keys into the sorted arrays; drop removed articles' entries
        and renumber the slots once removed ones are the majority."""
        if self._pending or self._recent.used:
            keys = np.concatenate([k for k, _s in self._pending] + [self._recent.entries()[0]])
            slots = np.concatenate([s for _k, s in self._pending] + [self._recent.entries()[1]])
            order = np.lexsort((slots, keys))
            keys, slots = keys[order], slots[order]
            # Every pending slot is newer than every merged one, so putting them after the
            # equal keys keeps the arrays ordered by (key, slot).
            self._keys, self._slots = kernels.merge_postings(self._keys, self._slots,
                                                             keys, slots.astype(np.int32))
            self._pending.clear()
            self._pending_articles = 0
            self._recent.clear()
        if self._dead and self._dead >= len(self._slot_of):
            self._compact()

    def _compact(self) -> None:
        n = self._n
        alive = self._alive[:n]
        live = np.flatnonzero(alive)
        new_slot = np.cumsum(alive, dtype=np.int64) - 1
        keep = alive[self._slots]
        self._keys = self._keys[keep]
        self._slots = new_slot[self._slots[keep]].astype(np.int32)
        old = {name: getattr(self, name)[live] for name in
               ("_pk", "_sighash", "_label", "_days", "_nsh", "_dupsk")}
        lens = self._tlen[live]
        keep_terms = np.repeat(self._tstart[live] - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
        terms, weights = self._terms[keep_terms], self._weights[keep_terms]
        stories = [self._label_story[i] for i in old["_label"].tolist()]
        ids = [self._ids[i] for i in live.tolist()]
        dupof = [self._dupof[i] for i in live.tolist()]
        m = live.shape[0]
        self._reset_rows(max(1024, 2 * m), max(1024 * 80, 2 * terms.shape[0]))
        for name, values in old.items():
            getattr(self, name)[:m] = values
        self._label[:m] = [self._labelled(st) for st in stories]
        self._terms[:terms.shape[0]], self._weights[:terms.shape[0]] = terms, weights
        self._tused = terms.shape[0]
        self._tlen[:m] = lens
        self._tstart[:m] = np.cumsum(lens) - lens
        self._alive[:m] = True
        self._ids, self._dupof, self._n = ids, dupof, m
        self._oldest = 0
        self._slot_of = {pk: i for i, pk in enumerate(self._pk[:m].tolist())}

    # -- lookups ---------------------------------------------------------------------------
    def candidates(self, keys: Sequence[int]) -> Candidates:
        """Articles sharing a band key with ``keys``: each key's ``per_key_limit`` most recent
        live articles, of which the ``max_candidates`` sharing the most keys (then the most
        recent), in insertion order."""
        with self._lock:
            query = np.array(sorted(set(keys)), np.int64)
            if not query.shape[0] or not self._slot_of:
                return _NO_CANDIDATES
            if self._recent.used:
                recent, need = self._recent.tails(self._alive, query, self.per_key_limit)
            else:
                recent, need = None, np.full(query.shape[0], self.per_key_limit, np.int64)
            found = kernels.posting_tails(self._keys, self._slots, self._alive, query, need)
            if recent is not None and recent.shape[0]:
                found = np.concatenate((found, recent))
            if not found.shape[0]:
                return _NO_CANDIDATES
            chosen, labels, _n = kernels.choose_candidates(found, self._label, self.min_shared,
                                                           self.max_candidates)
            if not chosen.shape[0]:
                return _NO_CANDIDATES
            # The batch points into the arrays (no copies); they are only replaced, never
            # changed in place where a live slot's data is, while the caller holds the lock.
            batch = SignatureBatch(self._dupsk, self._nsh[chosen], self._terms, self._weights,
                                   self._tlen[chosen], self._tstart[chosen], chosen)
            return Candidates(self._pk[chosen], batch, self._days[chosen], labels,
                              self._label[chosen], chosen.tolist(), self._ids, self._dupof,
                              self._label_story)

    def __len__(self) -> int:
        return len(self._slot_of)
