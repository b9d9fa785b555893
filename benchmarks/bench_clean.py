"""Speed of clean(): HTML against trafilatura.extract alone, and plain-text throughput.

    python benchmarks/bench_clean.py [DATA_DIR] [--pages N] [--articles N]

``--pages 0`` skips the HTML table, ``--articles 0`` the plain-text one.

DATA_DIR holds ``wcxb-dev/html/*.html.gz`` (real pages); without it, pages are synthesized.
Synthetic pages are small (6 KB) and trafilatura parses them in about a millisecond, so there
the judge's fixed cost per page (about 0.5 ms for a 700-word body) dominates the ratio; the
target is meant for real pages.
Targets: HTML clean() at most 1.3x trafilatura.extract on the same pages (ratio of medians);
plain text at least 1,000 articles/s on one core for ~800-word articles.
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import sys
import time
from pathlib import Path

import trafilatura

from cleaner import CleanerError, clean

#: Targets from the issue, printed next to the measurements.
HTML_RATIO_TARGET = 1.3
TEXT_RATE_TARGET = 1000.0

_WORDS = ("council harbor barrier water storm engineers residents mayor budget vote plan bridge "
          "river school police court report company market prices energy project study data city "
          "region officials year week families homes workers construction design public meeting").split()


def _sentence(rng: random.Random) -> str:
    n = rng.randint(12, 24)
    words = [rng.choice(_WORDS) for _ in range(n)]
    filler = ("the", "of", "and", "to", "in", "said", "on", "for", "with", "that")
    for i in range(1, n, 3):
        words[i] = rng.choice(filler)
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def synthetic_article(rng: random.Random, words: int = 800) -> str:
    """A plain-text article of about ``words`` words with a headline and a few promo lines."""
    paras: list[str] = ["City Council Votes On New Harbor Barrier Plan"]
    count = 0
    while count < words:
        para = " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
        count += len(para.split())
        paras.append(para)
    paras.insert(3, "Advertisement")
    paras.insert(6, "Sign up for our newsletter to get the latest news delivered to your inbox.")
    return "\n\n".join(paras)


def synthetic_page(rng: random.Random) -> str:
    body = "".join(f"<p>{p}</p>" for p in synthetic_article(rng, 700).split("\n\n")[1:])
    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(30))
    return (f"<html><head><title>City Council Votes</title></head><body><nav><ul>{nav}</ul></nav>"
            f"<article><h1>City Council Votes</h1>{body}</article><footer>(c) 2024 Example</footer></body></html>")


def load_pages(data_dir: Path | None, n: int) -> tuple[list[str], str]:
    html_dir = data_dir / "wcxb-dev" / "html" if data_dir else None
    if html_dir and html_dir.is_dir():
        files = sorted(html_dir.glob("*.html.gz"))
        step = max(1, len(files) // max(n, 1))
        pages = [gzip.open(f).read().decode("utf-8", "replace") for f in files[::step][:n]]
        return pages, f"wcxb-dev ({len(pages)} pages, every {step}th)"
    rng = random.Random(7)
    return [synthetic_page(rng) for _ in range(n)], f"synthetic ({n} pages)"


def _time(fn, arg) -> float:
    t0 = time.perf_counter()
    try:
        fn(arg)
    except CleanerError:
        pass
    return time.perf_counter() - t0


def bench_html(pages: list[str], repeats: int) -> dict[str, float]:
    """Per page, the best of ``repeats`` runs of each, interleaved so load hits both alike."""
    base, ours = [], []
    for page in pages[: min(5, len(pages))]:  # warm caches and imports
        trafilatura.extract(page)
        _time(lambda p: clean(p, content_type="html"), page)
    for page in pages:
        b = min(_time(trafilatura.extract, page) for _ in range(repeats))
        o = min(_time(lambda p: clean(p, content_type="html"), page) for _ in range(repeats))
        base.append(b)
        ours.append(o)
    return {"base_median": statistics.median(base), "ours_median": statistics.median(ours),
            "base_total": sum(base), "ours_total": sum(ours),
            "median_of_ratios": statistics.median(o / b for o, b in zip(ours, base) if b > 0)}


def bench_text(n: int) -> dict[str, float]:
    rng = random.Random(11)
    articles = [synthetic_article(rng) for _ in range(n)]
    words = statistics.mean(len(a.split()) for a in articles)
    for a in articles[:20]:
        clean(a, content_type="text")
    t0 = time.perf_counter()
    for a in articles:
        clean(a)  # content type sniffed, as a caller would leave it
    dt = time.perf_counter() - t0
    return {"articles": n, "words": words, "seconds": dt, "rate": n / dt}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", nargs="?", type=Path, default=None)
    ap.add_argument("--pages", type=int, default=150, help="HTML pages to time (0: skip the HTML table)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per page; the fastest counts")
    ap.add_argument("--articles", type=int, default=3000, help="plain-text articles to time (0: skip that table)")
    args = ap.parse_args(argv)
    if args.pages < 0 or args.articles < 0 or args.repeats < 1:
        ap.error("--pages and --articles must be >= 0 (0 skips that table), --repeats >= 1")
    if args.data_dir is not None and not (args.data_dir / "wcxb-dev" / "html").is_dir():
        ap.error(f"no wcxb-dev/html folder under {args.data_dir} (leave DATA_DIR out to time "
                 f"synthetic pages)")
    met: list[bool] = []
    if args.pages:
        met.append(report_html(*load_pages(args.data_dir, args.pages), args.repeats))
    if args.articles:
        met.append(report_text(args.articles))
    if met:
        print(f"\ntargets met: {'yes' if all(met) else 'no'}")
    return 0


def report_html(pages: list[str], origin: str, repeats: int) -> bool:
    """Print the HTML table; True when the ratio target is met."""
    h = bench_html(pages, repeats)
    ratio = h["ours_median"] / h["base_median"]
    print(f"\n## HTML: clean() vs trafilatura.extract, {origin}, best of {repeats} per page\n")
    print("| measure | trafilatura.extract | clean() | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| median ms/page | {1000 * h['base_median']:.1f} | {1000 * h['ours_median']:.1f} | {ratio:.2f}x "
          f"| <= {HTML_RATIO_TARGET}x |")
    print(f"| total s | {h['base_total']:.2f} | {h['ours_total']:.2f} | {h['ours_total'] / h['base_total']:.2f}x | |")
    print(f"| median of per-page ratios | | | {h['median_of_ratios']:.2f}x | |")
    return ratio <= HTML_RATIO_TARGET


def report_text(n: int) -> bool:
    """Print the plain-text table; True when the throughput target is met."""
    t = bench_text(n)
    print(f"\n## Plain text: {t['articles']} synthetic articles of ~{t['words']:.0f} words, one core\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| articles/s | {t['rate']:,.0f} | >= {TEXT_RATE_TARGET:,.0f} |")
    print(f"| ms/article | {1000 / t['rate']:.2f} | |")
    return t["rate"] >= TEXT_RATE_TARGET


if __name__ == "__main__":
    sys.exit(main())
