"""Unicode normalisation, bounded: the one place text is NFC- or NFD-normalised.

CPython's `unicodedata.normalize` sorts a run of combining marks by insertion, so its cost
grows with the square of the run's length: one letter followed by 250,000 pairs of marks of
alternating classes (1 MB) takes minutes, on the event loop where no budget can stop it. No
writing system needs more than a few marks on one letter (Vietnamese stacks two), so every run
is cut to MAX_MARKS before any normalisation; the ParsedMessage records a cut as the problem
MIME_COMBINING_RUN (runs that long are made to stall or evade filters, "Zalgo" text).
"""
from __future__ import annotations

import unicodedata

import re2

MAX_MARKS = 4  # combining marks kept after one base character; the rest of the run is dropped

# RE2 (a DFA: ~20 times faster here than `re` with a class of every mark). Its \pM is Unicode's
# general category M, which holds every character with a non-zero combining class: all that
# normalisation reorders.
_LONG_RUN = re2.compile(r"(\pM{%d})\pM+" % MAX_MARKS)


def bound_marks(text: str) -> tuple[str, int]:
    """`text` with every run of combining marks cut to MAX_MARKS, and the number of runs cut.
    Linear in the length of the text."""
    if text.isascii() or _LONG_RUN.search(text) is None:
        return text, 0
    return _LONG_RUN.subn(r"\1", text)


def nfc(text: str) -> str:
    """NFC of `text`, its mark runs bounded first (ASCII returned as is)."""
    return text if text.isascii() else unicodedata.normalize("NFC", bound_marks(text)[0])


def nfd(text: str) -> str:
    """NFD of `text`, its mark runs bounded first (ASCII returned as is)."""
    return text if text.isascii() else unicodedata.normalize("NFD", bound_marks(text)[0])
