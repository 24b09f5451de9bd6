"""MIME_* symbols: the problems found while building the ParsedMessage."""
from __future__ import annotations

from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol

# Default scores: a parse problem alone says little; a site may rescore any of them in rules.
DEFAULT_SCORES = {"MIME_BAD_BOUNDARY": 1.0, "MIME_BAD_BASE64": 0.5, "MIME_NUL_BYTES": 0.5,
                  "MIME_TOO_MANY_PARTS": 1.0, "MIME_BAD_CHARSET": 0.1, "MIME_MISSING_CHARSET": 0.1}


async def check_mime(ctx: ScanContext) -> list[Symbol]:
    return [Symbol(name, DEFAULT_SCORES.get(name, 0.0), detail)
            for name, detail in ctx.message.problem_symbols()]
