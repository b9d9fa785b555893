"""Plain text in, blocks out.

Paragraphs are split at blank lines; inside a blank-line paragraph every line is its own
block too, because many scrapers write one paragraph per line (and an ad's three lines
are three decisions). Lines that were only hard-wrapped (the next line continues the
sentence in lower case, or the line ends mid-phrase with a comma or hyphen) are rejoined.
"""

from __future__ import annotations

import re

from .errors import InputTooLargeError
from .models import Block

_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")
# A line ending like this did not finish its sentence.
_OPEN_END = re.compile(r"(?:[,;\-–(]|\b(?:and|or|but|the|a|an|of|to|in|with|for))$", re.I)
_TAIL_CHARS = 8
#: More blocks than this is no article (a 20 MB input of one-word lines would otherwise cost
#: gigabytes of blocks); such input is refused as too large.
MAX_BLOCKS = 50_000
_SENTENCE_END = ('.', '!', '?', '"', '”', '’', "'", ')', '…', ':')


def _continues(prev: str, line: str) -> bool:
    """Is ``line`` the wrapped continuation of ``prev``?"""
    if not line or prev.endswith(_SENTENCE_END):
        return False
    # Only the end of prev matters: searching its last characters keeps a long paragraph of
    # many wrapped lines linear (the slice keeps one character before the longest word, so
    # the word boundary is judged as on the whole line).
    return line[0].islower() or bool(_OPEN_END.search(prev[-_TAIL_CHARS:]))


def segment_text(text: str) -> tuple[Block, ...]:
    """Split plain text into paragraph blocks (kind ``"p"`` for a blank-line paragraph,
    ``"line"`` for one line of a multi-line paragraph)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[Block] = []
    for chunk in _BLANK_LINE.split(text):
        lines: list[list[str]] = []  # each line as its wrapped parts, joined once at the end
        for raw in chunk.split("\n"):
            line = " ".join(raw.split())
            if not line:
                continue
            if lines and _continues(lines[-1][-1], line):
                lines[-1].append(line)
            else:
                lines.append([line])
        kind = "line" if len(lines) > 1 else "p"
        if len(blocks) + len(lines) > MAX_BLOCKS:
            raise InputTooLargeError(f"the text has more than {MAX_BLOCKS:,} paragraphs and lines; "
                                     f"no article is that long (split the input)")
        for parts in lines:
            blocks.append(Block(text=" ".join(parts), position=len(blocks), kind=kind))
    return tuple(blocks)
