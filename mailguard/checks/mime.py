"""MIME_* symbols: the problems found while building the ParsedMessage."""
from __future__ import annotations

from mailguard.checks.spec import CheckSpec, Stage, SymbolFamily, SymbolSpec
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol

# Default scores: a parse problem alone says little; a site may rescore any of them in rules.
# Those a sender has to make on purpose weigh more: deliberate breakage is evidence, and an
# evasion trick must never make a message look cleaner than it is (README, "Hostile input").
SYMBOLS = (
    SymbolSpec("MIME_BAD_BOUNDARY", 1.0, "a multipart without its boundary, or a boundary or close missing"),
    SymbolSpec("MIME_MISSING_CHARSET", 0.1, "8-bit text with no charset declared"),
    # A charset label no text codec knows (idna, undefined, ...): seen in spam, never in the
    # corpus's ham; the part is still read, decoded as UTF-8 or latin-1.
    SymbolSpec("MIME_BAD_CHARSET", 1.0, "a charset label no codec knows"),
    SymbolSpec("MIME_CHARSET_MISMATCH", 0.0, "bytes not valid in the declared charset"),
    SymbolSpec("MIME_BAD_BASE64", 0.5, "base64 with invalid characters, length or padding"),
    SymbolSpec("MIME_BAD_CTE", 0.0, "an unknown Content-Transfer-Encoding"),
    SymbolSpec("MIME_NUL_BYTES", 0.5, "NUL bytes in the message"),
    SymbolSpec("MIME_TOO_MANY_PARTS", 1.0, "more MIME parts than are looked at"),
    SymbolSpec("MIME_TOO_DEEP", 0.0, "MIME parts nested deeper than are looked at"),
    SymbolSpec("MIME_TOO_MANY_HEADERS", 0.0, "more header fields than are looked at"),
    SymbolSpec("MIME_TOO_MANY_LINKS", 0.0, "more links than are looked at"),
    SymbolSpec("MIME_LONG_HEADER", 0.0, "a header line over 998 characters, or a huge field"),
    SymbolSpec("MIME_HEADER_DEFECT", 0.0, "a malformed header block or parameter list"),
    SymbolSpec("MIME_8BIT_HEADER", 0.0, "raw 8-bit header bytes that are not UTF-8"),
    SymbolSpec("MIME_BAD_ENCODED_WORD", 0.0, "an RFC 2047 encoded word that does not decode"),
    SymbolSpec("MIME_TRUNCATED", 0.0, "a size cap was hit: what follows was not looked at"),
    SymbolSpec("MIME_DEFECT", 0.0, "another defect the MIME parser reports"),
    # The parser failed and the message was read as one text body: the structure-based rules
    # (parts, attachments, HTML) saw nothing, so the failure itself must count, never 0.
    SymbolSpec("MIME_PARSE_ERROR", 1.0, "the MIME parser failed; the message was read as one text body"),
    # An address field the parser cannot take (hundreds of nested comments or groups): made to
    # break filters; its addresses are still found by a linear scan and checked.
    SymbolSpec("MIME_BAD_ADDRESS_HEADER", 1.5, "an address field too deep or unparseable"),
    # More than four combining marks on one letter: no writing system needs it; it is made to
    # stall Unicode normalisation or to hide words from rules (the run is cut, the text read).
    SymbolSpec("MIME_COMBINING_RUN", 1.5, "a run of combining marks on one letter (cut)"),
)
_SCORES = {s.name: s.score for s in SYMBOLS}
STAGE = Stage("MIME")


async def check_mime(ctx: ScanContext) -> list[Symbol]:
    return [Symbol(name, _SCORES.get(name, 0.0), detail) for name, detail in ctx.message.problem_symbols()]


SPEC = CheckSpec(name="MIME", stages=(STAGE,), symbols=SYMBOLS,
                 families=(SymbolFamily("MIME_", "problems found while parsing the message"),),
                 build=lambda config, services, offline: (STAGE.check(check_mime, budget=2.0),))
