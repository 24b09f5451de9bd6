"""The Subject label of Decree 91 Art. 18: `[QC]` or `[AD]`, exactly so, as the first thing in the
decoded Subject (leading whitespace tolerated). Anything else is "missing"; what came close (a
near-miss: `[qc]`, `[ QC ]`, `QC:`, `(QC)`, `[ADV]`, `[Quảng cáo]`, or the label further in) is
named in `label_seen`, so that the sender can be told what to fix."""
from __future__ import annotations

from dataclasses import dataclass

import re2

from mailguard.advertising.fold import strip_marks
from mailguard.scan.text import nfc

SUBJECT_CHARS = 200  # of the Subject looked at: a label is at its start
_WORDS = r"(?:qc|ad|ads|adv|advert|advertisement|advertising|quang\s*cao|q\.c\.?)"
# Near-misses at the start, tried on the diacritic-stripped lower-case Subject (linear: RE2).
_AT_START = (
    re2.compile(r"^\s*(\[\s*" + _WORDS + r"\s*\])"),  # [qc] [ QC ] [ADV] [Quảng cáo]
    re2.compile(r"^\s*(\(\s*" + _WORDS + r"\s*\))"),  # (QC)
    re2.compile(r"^\s*(\{\s*" + _WORDS + r"\s*\}|<\s*" + _WORDS + r"\s*>)"),  # {QC} <QC>
    re2.compile(r"^\s*((?:qc|ads?|adv|quang\s*cao)\s*:|(?:qc|adv|quang\s*cao)\s*[|\-–])"),  # QC: AD: QC -
    re2.compile(r"^\s*(\[\s*" + _WORDS + r"\s*[:\-]?[^\]]{0,20}\])"),  # [QC - Shop]
)
_ANYWHERE = re2.compile(r"(\[\s*(?:qc|ad)\s*\]|\[\s*quang\s*cao\s*\])")  # a label not first


@dataclass(frozen=True)
class LabelResult:
    label: str  # "QC" | "AD" | "missing"
    seen: str  # the near-miss as written ("" when none, or when labelled)
    at_start: bool  # something label-like starts the Subject (exact or near-miss): a sign of an ad


def read_label(subject: str | None) -> LabelResult:
    text = nfc(subject or "")[:SUBJECT_CHARS]
    start = text.lstrip()
    for label in ("QC", "AD"):
        if start.startswith(f"[{label}]"):
            return LabelResult(label, "", True)
    plain = strip_marks(text)  # same length as `text` for Vietnamese (one mark-free letter each)
    same = len(plain) == len(text)
    for pattern in _AT_START:
        m = pattern.search(plain)
        if m:
            return LabelResult("missing", _shown(text, plain, m, same), True)
    m = _ANYWHERE.search(plain)
    if m:
        return LabelResult("missing", f"{_shown(text, plain, m, same)} not first", False)
    return LabelResult("missing", "", False)


def _shown(text: str, plain: str, m, same: bool) -> str:
    """The matched piece as the sender wrote it (the stripped form when lengths differ)."""
    begin, end = m.span(1)
    return (text if same else plain)[begin:end].strip()
