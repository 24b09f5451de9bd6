"""One normal form for matching words, computed once per piece of text: lower case, diacritics
stripped (NFD, marks dropped, `đ` → `d`), every run of what is not a letter, a digit, `%` or `$`
made one space, padded with a space at each end. `" giảm giá "`, `"GIAM GIA"` and the NFD form
all fold to `" giam gia "`, so a phrase matches with a plain `in` test on `" " + phrase + " "`.

Linear in the text (the marks runs are bounded by mailguard.scan.text before NFD)."""
from __future__ import annotations

import unicodedata

from mailguard.scan.text import nfc, nfd

_KEEP = "%$"
_STROKES = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ı": "i", "ł": "l", "ø": "o"})


# The same mapping for ASCII text, done by str.translate in C (most text is ASCII once its
# marks are stripped; the loop below costs about 5 times more per character).
_ASCII_SPACES = str.maketrans({chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) in _KEEP)})


# ... and for the rest of the Basic Multilingual Plane (text beyond it takes the loop).
_BMP_SPACES = {c: " " for c in range(0x10000) if not (chr(c).isalnum() or chr(c) in _KEEP)}


def _squash(text: str) -> str:
    if text.isascii():
        return " " + " ".join(text.translate(_ASCII_SPACES).split()) + " "
    if max(text) <= "\uffff":
        return " " + " ".join(text.translate(_BMP_SPACES).split()) + " "
    out = [c if c.isalnum() or c in _KEEP else " " for c in text]
    return " " + " ".join("".join(out).split()) + " "


# Every combining mark of the Basic Multilingual Plane, deleted by str.translate in C (the
# per-character test of unicodedata.combining was the check's largest own cost); a text with
# characters beyond the BMP takes the exact per-character way.
_NO_MARKS = dict.fromkeys(c for c in range(0x10000) if unicodedata.combining(chr(c)))


def strip_marks(text: str) -> str:
    """`text` in NFC-equivalent lower case with combining marks dropped and `đ` as `d`."""
    decomposed = nfd(text.lower()).translate(_STROKES)
    if decomposed.isascii():
        return decomposed
    stripped = decomposed.translate(_NO_MARKS)
    if stripped.isascii() or max(stripped) <= "\uffff":
        return stripped
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The matching form of `text` (see the module doc)."""
    return _squash(strip_marks(text))


def mark_fold(text: str) -> str:
    """Like fold() but with the diacritics kept (NFC, lower case)."""
    return _squash(nfc(text.lower()))


def fold_phrase(phrase: str) -> str:
    """A vocabulary phrase in the same form, padded: ready for `in` on folded text."""
    return fold(phrase)


def readable(text: str) -> str:
    """NFC, for details people read."""
    return nfc(text)
