"""Quality evaluation on the dev data: ``python -m cleaner.eval DATA_DIR [--limit N] [--only wcxb|promo]``.

Prints two tables:

1. ``wcxb-dev`` (HTML pages with a main-content ground truth): token precision, recall and
   F1 (bag of lower-cased ``\\w+`` tokens, per page, averaged, as the upstream scorer does),
   recall of ``with`` snippets and leak rate of ``without`` snippets (all, and the promo-like
   ones), for our cleaner side by side with plain ``trafilatura.extract`` (default and
   ``favor_precision=True``) in the same run; overall and for article pages.
2. ``promo-text-dev`` (article text with labelled paragraphs): the article is fed as plain
   text; ``headline``/``content`` paragraphs should stay, the others go. Reports removal
   precision, recall and the share of keep-paragraph characters kept.

DATA_DIR is a directory holding ``wcxb-dev/`` and/or ``promo-text-dev/``; nothing is copied.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .errors import CleanerError, InvalidArgumentError

_TOKEN = re.compile(r"\w+")
#: A `without` snippet is "promo-like" when it has one of these words: the in-body promos
#: and site furniture this library exists to remove (the issue's list, plus obvious kin).
PROMO_SNIPPET = re.compile(
    r"(?i)\b(?:newsletters?|subscri\w*|podcasts?|related|share[sd]?|sharing|advert\w*|sponsor\w*|"
    r"sign\s+up|follow\s+us|read\s+more|recommended|cookies?)\b"
)
#: Labels of promo-text-dev paragraphs that belong to the article.
KEEP_LABELS = frozenset({"headline", "content"})


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def token_prf(pred: str, truth: str) -> tuple[float, float, float]:
    """Precision, recall, F1 of the token multisets (0 when either side is empty)."""
    p, t = Counter(tokens(pred)), Counter(tokens(truth))
    overlap = sum((p & t).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    prec = overlap / sum(p.values())
    rec = overlap / sum(t.values())
    return prec, rec, 2 * prec * rec / (prec + rec)


def _snippet_in(snippet: str, haystack: str) -> bool:
    needle = " ".join(tokens(snippet))
    return bool(needle) and needle in haystack


# ----------------------------------------------------------------------------- wcxb


@dataclass
class _Tally:
    pages: int = 0
    p: float = 0.0
    r: float = 0.0
    f: float = 0.0
    with_found: int = 0
    with_total: int = 0
    without_leaked: int = 0
    without_total: int = 0
    promo_leaked: int = 0
    promo_total: int = 0
    seconds: float = 0.0

    def add(self, pred: str, truth: str, with_: Sequence[str], without: Sequence[str]) -> None:
        prec, rec, f1 = token_prf(pred, truth)
        self.pages += 1
        self.p += prec
        self.r += rec
        self.f += f1
        hay = " ".join(tokens(pred))
        for s in with_:
            self.with_total += 1
            self.with_found += _snippet_in(s, hay)
        for s in without:
            leaked = _snippet_in(s, hay)
            self.without_total += 1
            self.without_leaked += leaked
            if PROMO_SNIPPET.search(s):
                self.promo_total += 1
                self.promo_leaked += leaked

    def row(self, name: str) -> list[str]:
        n = max(self.pages, 1)
        return [name, str(self.pages), f"{self.p / n:.4f}", f"{self.r / n:.4f}", f"{self.f / n:.4f}",
                f"{self.with_found / max(self.with_total, 1):.3f}",
                f"{self.without_leaked / max(self.without_total, 1):.3f}",
                f"{self.promo_leaked / max(self.promo_total, 1):.3f} ({self.promo_leaked}/{self.promo_total})",
                f"{1000 * self.seconds / n:.0f}"]


@dataclass(frozen=True)
class WcxbPage:
    id: str
    html: str
    main_content: str
    with_: tuple[str, ...]
    without: tuple[str, ...]
    page_type: str
    url: str | None


def load_wcxb(root: Path, limit: int | None = None) -> Iterator[WcxbPage]:
    """Pages with a non-empty ``main_content`` (the others cannot be scored)."""
    count = 0
    gt_paths = sorted((root / "ground-truth").glob("*.json"))
    unscored = sorted({p.name[:-len(".html.gz")] for p in (root / "html").glob("*.html.gz")}
                      - {p.stem for p in gt_paths})
    if unscored:
        print(f"warning: {len(unscored)} page(s) in {root / 'html'} have no ground truth "
              f"(e.g. {unscored[0]}.html.gz); they are not scored", file=sys.stderr)
    for gt_path in gt_paths:
        if limit is not None and count >= limit:
            return
        try:
            doc = json.loads(gt_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InvalidArgumentError(f"{gt_path}: not a ground-truth JSON file ({exc})") from None
        gt = doc.get("ground_truth") if isinstance(doc, dict) else None
        if not isinstance(gt, dict) or not isinstance(gt.get("main_content") or "", str):
            raise InvalidArgumentError(f'{gt_path}: expected an object with "ground_truth": '
                                       f'{{"main_content": ...}}')
        main = gt.get("main_content") or ""
        if not main.strip():
            continue
        html_path = root / "html" / f"{gt_path.stem}.html.gz"
        if not html_path.exists():
            print(f"warning: {gt_path.name}: no page {html_path} for this ground truth; skipped",
                  file=sys.stderr)
            continue
        try:
            with gzip.open(html_path) as fh:
                html = fh.read().decode("utf-8", "replace")
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            raise InvalidArgumentError(f"{html_path}: not a readable .html.gz ({exc})") from None
        page_type = ((doc.get("_internal") or {}).get("page_type") or {}).get("primary") or "unknown"
        count += 1
        yield WcxbPage(gt_path.stem, html, main, tuple(gt.get("with") or ()), tuple(gt.get("without") or ()),
                       page_type, doc.get("url") or gt.get("url"))


#: The systems eval_wcxb compares (names as ``--systems`` takes them).
SYSTEMS = ("trafilatura default", "trafilatura favor_precision", "cleaner balanced",
           "cleaner precision", "cleaner recall")


def _systems() -> dict[str, Callable[[WcxbPage], str]]:
    import trafilatura

    from .pipeline import clean

    def ours(favor: str) -> Callable[[WcxbPage], str]:
        def run(page: WcxbPage) -> str:
            try:
                art = clean(page.html, url=page.url, content_type="html", favor=favor)
            except CleanerError:
                return ""
            return art.text  # scored like trafilatura's text output: body only, no title
        return run

    return {
        "trafilatura default": lambda pg: trafilatura.extract(pg.html, url=pg.url) or "",
        "trafilatura favor_precision": lambda pg: trafilatura.extract(pg.html, url=pg.url, favor_precision=True) or "",
        "cleaner balanced": ours("balanced"),
        "cleaner precision": ours("precision"),
        "cleaner recall": ours("recall"),
    }


def eval_wcxb(root: Path, limit: int | None = None, systems: Iterable[str] | None = None) -> dict[str, dict[str, _Tally]]:
    """Score each system on each page; returns {group: {system: tally}} for "all" and "article"."""
    available = _systems()
    chosen = {k: v for k, v in available.items() if systems is None or k in set(systems)}
    out: dict[str, dict[str, _Tally]] = {"all": {k: _Tally() for k in chosen},
                                         "article": {k: _Tally() for k in chosen}}
    for page in load_wcxb(root, limit):
        for name, fn in chosen.items():
            t0 = time.perf_counter()
            pred = fn(page)
            dt = time.perf_counter() - t0
            for group in ("all", "article") if page.page_type == "article" else ("all",):
                tally = out[group][name]
                tally.seconds += dt
                tally.add(pred, page.main_content, page.with_, page.without)
    return out


# ----------------------------------------------------------------------------- promo text


@dataclass
class PromoResult:
    pages: int = 0
    removed_right: int = 0
    removed_wrong: int = 0
    missed: int = 0
    keep_chars: int = 0
    keep_chars_kept: int = 0
    errors: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    missed_examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.removed_right / max(self.removed_right + self.removed_wrong, 1)

    @property
    def recall(self) -> float:
        return self.removed_right / max(self.removed_right + self.missed, 1)

    @property
    def kept_share(self) -> float:
        return self.keep_chars_kept / max(self.keep_chars, 1)


def _norm(text: str) -> str:
    return " ".join(text.split())


def kept_flags(inputs: Sequence[str], outputs: Sequence[str]) -> list[bool]:
    """Match output paragraphs back to input paragraphs in order; True = kept."""
    flags = [False] * len(inputs)
    j = 0
    norm_in = [_norm(p) for p in inputs]
    for out in outputs:
        o = _norm(out)
        k = j
        while k < len(norm_in) and norm_in[k] != o:
            k += 1
        if k < len(norm_in):
            flags[k] = True
            j = k + 1
    return flags


def eval_promo(path: Path, *, favor: str = "balanced", limit: int | None = None) -> PromoResult:
    """Feed each article as plain text (paragraphs joined by blank lines) and score removals."""
    from .pipeline import clean

    res = PromoResult()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            try:
                doc = json.loads(line)
                paras = [p for p in doc["paragraphs"] if _norm(p["text"])]
            except (json.JSONDecodeError, RecursionError, KeyError, TypeError) as exc:
                raise InvalidArgumentError(f"{path} line {n + 1}: not an article with labelled "
                                           f'"paragraphs" ({type(exc).__name__}: {exc})') from None
            texts = [_norm(p["text"]) for p in paras]
            res.pages += 1
            try:
                art = clean("\n\n".join(texts), content_type="text", favor=favor)
                outputs = list(art.paragraphs)
                flags = kept_flags(texts, outputs)
                if art.title:  # the headline moved to the title is kept, not removed
                    for i, t in enumerate(texts):
                        if not flags[i] and t == _norm(art.title):
                            flags[i] = True
                            break
            except CleanerError:
                res.errors += 1
                flags = [False] * len(texts)
            for p, t, kept in zip(paras, texts, flags):
                keep = p["label"] in KEEP_LABELS
                if keep:
                    res.keep_chars += len(t)
                    res.keep_chars_kept += len(t) if kept else 0
                    if not kept:
                        res.removed_wrong += 1
                        res.wrong_examples.append(f"[{p['label']}] {t[:100]}")
                elif kept:
                    res.missed += 1
                    res.missed_examples.append(f"[{p['label']}] {t[:100]}")
                else:
                    res.removed_right += 1
    return res


# ----------------------------------------------------------------------------- output


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-style markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


WCXB_HEADER = ("system", "pages", "P", "R", "F1", "with recall", "without leak", "promo-like leak", "ms/page")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cleaner.eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path, help="directory holding wcxb-dev/ and/or promo-text-dev/")
    ap.add_argument("--limit", type=positive, default=None, help="at most N pages/articles per dataset")
    ap.add_argument("--only", choices=("wcxb", "promo"), default=None)
    ap.add_argument("--systems", default=None,
                    help="comma-separated subset of systems for wcxb (default: all)")
    ap.add_argument("--show-errors", type=non_negative, default=0, help="print N wrong/missed removals (promo)")
    args = ap.parse_args(argv)
    root: Path = args.data_dir
    if not root.is_dir():
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    systems = args.systems.split(",") if args.systems else None
    unknown = sorted(set(systems or ()) - set(SYSTEMS))
    if unknown:
        print(f"error: unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}",
              file=sys.stderr)
        return 2
    try:
        return _run(root, args, systems)
    except (CleanerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    """argparse type: an integer of 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _run(root: Path, args: argparse.Namespace, systems: list[str] | None) -> int:
    ran = False
    wcxb = root / "wcxb-dev"
    if args.only in (None, "wcxb") and (wcxb / "ground-truth").is_dir():
        ran = True
        res = eval_wcxb(wcxb, args.limit, systems)
        for group, tallies in res.items():
            print(f"\n## wcxb-dev: {group} pages\n")
            print(format_table(WCXB_HEADER, [t.row(name) for name, t in tallies.items()]))
    promo = root / "promo-text-dev" / "articles.jsonl"
    if args.only in (None, "promo") and promo.is_file():
        ran = True
        rows = []
        for favor in ("precision", "balanced", "recall"):
            r = eval_promo(promo, favor=favor, limit=args.limit)
            rows.append([f"cleaner {favor}", str(r.pages), f"{r.precision:.3f}", f"{r.recall:.3f}",
                         f"{r.kept_share:.4f}", str(r.removed_right + r.removed_wrong), str(r.errors)])
            if favor == "balanced" and args.show_errors:
                print("\nwrongly removed:", *r.wrong_examples[: args.show_errors], sep="\n  ")
                print("\nmissed:", *r.missed_examples[: args.show_errors], sep="\n  ")
        print("\n## promo-text-dev: plain text, remove non-content paragraphs\n")
        print(format_table(("system", "articles", "removal P", "removal R", "content chars kept", "removed", "errors"),
                           rows))
    if not ran:
        print(f"error: no wcxb-dev/ground-truth or promo-text-dev/articles.jsonl under {root}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
