"""The machine-readable part of an ARF report (RFC 5965 §3.1): `message/feedback-report`
fields such as Feedback-Type, Source-IP, Original-Mail-From, Reported-Domain."""
from __future__ import annotations

from mailguard.scan.message import ParsedMessage

MAX_FIELD_LINES = 200  # lines of the feedback part read
MAX_FIELD_CHARS = 998  # characters kept of one field


def is_feedback_report(report: ParsedMessage) -> bool:
    """A `multipart/report; report-type=feedback-report`, or a message holding a
    `message/feedback-report` part near its top."""
    ctype = (report.header("content-type") or "")[:2048].lower()
    if "multipart/report" in ctype and "feedback-report" in ctype:
        return True
    return any(p.content_type == "message/feedback-report" and p.depth <= 1 for p in report.parts)


def feedback_fields(report: ParsedMessage) -> dict[str, list[str]]:
    """The fields of the first feedback part: lower-case name → values in order ({} without)."""
    part = next((p for p in report.parts if p.content_type == "message/feedback-report"), None)
    fields: dict[str, list[str]] = {}
    if part is None:
        return fields
    last: list[str] | None = None
    for line in part.text.splitlines()[:MAX_FIELD_LINES]:
        if line[:1] in (" ", "\t") and last:
            last[-1] = (last[-1] + " " + line.strip())[:MAX_FIELD_CHARS]
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name or len(name) > 64:
            last = None
            continue
        last = fields.setdefault(name, [])
        last.append(value.strip()[:MAX_FIELD_CHARS])
    return fields


def first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name.lower())
    return values[0] if values else ""
