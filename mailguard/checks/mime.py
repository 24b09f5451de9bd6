"""MIME_* symbols: the problems found while building the ParsedMessage."""
from __future__ import annotations

from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol

# Default scores: a parse problem alone says little; a site may rescore any of them in rules.
# Those a sender has to make on purpose weigh more: deliberate breakage is evidence, and an
# evasion trick must never make a message look cleaner than it is (README, "Hostile input").
DEFAULT_SCORES = {
    "MIME_BAD_BOUNDARY": 1.0, "MIME_BAD_BASE64": 0.5, "MIME_NUL_BYTES": 0.5, "MIME_TOO_MANY_PARTS": 1.0,
    "MIME_MISSING_CHARSET": 0.1,
    # A charset label no text codec knows (idna, undefined, ...): seen in spam, never in the
    # corpus's ham; the part is still read, decoded as UTF-8 or latin-1.
    "MIME_BAD_CHARSET": 1.0,
    # The parser failed and the message was read as one text body: the structure-based rules
    # (parts, attachments, HTML) saw nothing, so the failure itself must count, never 0.
    "MIME_PARSE_ERROR": 1.0,
    # An address field the parser cannot take (hundreds of nested comments or groups): made to
    # break filters; its addresses are still found by a linear scan and checked.
    "MIME_BAD_ADDRESS_HEADER": 1.5,
    # More than four combining marks on one letter: no writing system needs it; it is made to
    # stall Unicode normalisation or to hide words from rules (the run is cut, the text read).
    "MIME_COMBINING_RUN": 1.5,
}


async def check_mime(ctx: ScanContext) -> list[Symbol]:
    return [Symbol(name, DEFAULT_SCORES.get(name, 0.0), detail)
            for name, detail in ctx.message.problem_symbols()]
