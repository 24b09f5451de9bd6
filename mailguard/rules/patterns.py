"""Rule patterns: RE2 (linear time: no catastrophic backtracking on attacker-controlled mail),
checked and compiled once at load.

RE2 is Python's `re` without what needs backtracking (lookaround, backreferences, possessive
and atomic forms), and its `\\b`, `\\w`, `\\d` are ASCII-only — `\\bgiảm giá\\b` would never
match. Rule writers get `\\b{w}`, a word boundary that knows every script: it stands for
"start or end of the text, or one character that is not a letter, mark, digit or '_'". Unlike
`\\b` it consumes that character, which only matters for the matched text shown in `scan`.
Patterns and texts are both NFC-normalised, so a pattern written with precomposed Vietnamese
letters matches text sent decomposed (NFD) and the other way round.
"""
from __future__ import annotations

import functools

import re2

from mailguard.scan.text import nfc

WORD_BOUNDARY = r"(?:\A|\z|[^\p{L}\p{M}\p{N}_])"
MACRO = "\\b{w}"
_ASCII_ONLY = {"b": "\\b", "B": "\\B", "w": "\\w", "W": "\\W"}
MAX_MEM = 8 << 20  # bytes of compiled program per pattern (RE2's default); larger is refused
# RE2 instructions per pattern; larger is refused. RE2 is linear, but its cost per byte grows
# with the program: counted repetitions of Unicode classes (`(?:[^\p{Ll}]*\p{Lu}){25}`, 42,766
# instructions) overflow the DFA's cache and cost seconds per MB of capitals, on the event loop.
# The shipped rules stay under 6,000.
MAX_PROGRAM_SIZE = 10_000


class PatternError(ValueError):
    """A pattern RE2 cannot run, or one that would silently not do what it says."""


@functools.cache
def options() -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False  # our error messages say it better, and once
    opts.max_mem = MAX_MEM
    return opts


def expand(pattern: str) -> str:
    """The pattern as RE2 gets it: NFC, with `\\b{w}` expanded. PatternError for ASCII-only
    classes next to non-ASCII text (they could never match there)."""
    pattern = nfc(pattern)
    out: list[str] = []
    ascii_only: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch != "\\" or i + 1 >= len(pattern):
            out.append(ch)
            i += 1
            continue
        nxt = pattern[i + 1]
        if pattern.startswith(MACRO, i):
            out.append(WORD_BOUNDARY)
            i += len(MACRO)
            continue
        if nxt in _ASCII_ONLY:
            ascii_only.append(_ASCII_ONLY[nxt])
        out.append(pattern[i:i + 2])
        i += 2
    if ascii_only and any(not c.isascii() and c.isalpha() for c in pattern):
        raise PatternError(f"{ascii_only[0]} is ASCII-only in RE2 and never matches next to non-ASCII letters "
                           f"(as in Vietnamese); use \\b{{w}} for a word boundary, [\\p{{L}}\\p{{M}}\\p{{N}}_] "
                           f"for a word character")
    return "".join(out)


_EXPLAINED = (
    ("(?=", "lookahead (?=...) is not supported: RE2 matches in linear time, without lookaround"),
    ("(?!", "negative lookahead (?!...) is not supported: RE2 matches in linear time, without lookaround; "
            "write a second rule and combine them in a meta rule with '!'"),
    ("(?<=", "lookbehind (?<=...) is not supported: RE2 matches in linear time, without lookaround"),
    ("(?<!", "negative lookbehind (?<!...) is not supported: RE2 matches in linear time, without lookaround"),
    ("(?>", "atomic groups (?>...) are not supported (and not needed: RE2 never backtracks)"),
    ("(?(", "conditionals (?(...)...) are not supported by RE2"),
)


def _explain(message: str) -> str:
    for token, text in _EXPLAINED:
        if token in message:
            return text
    if "invalid escape sequence: \\" in message and message.rstrip()[-1:].isdigit():
        return "backreferences (\\1, ...) are not supported: RE2 matches in linear time"
    if "bad repetition operator" in message and message.rstrip()[-1:] == "+":
        return "possessive quantifiers (*+, ++, ?+) are not supported (and not needed: RE2 never backtracks)"
    if "pattern too large" in message:
        return f"pattern too large: it compiles to more than {MAX_MEM >> 20} MB; split it into several rules"
    return f"invalid regex: {message}"


def compile_pattern(pattern: str):
    """(compiled RE2 pattern, expanded text for an RE2 set); PatternError says what is wrong."""
    if not pattern:
        raise PatternError("empty pattern")
    expanded = expand(pattern)
    try:
        regex = re2.compile(expanded, options())
    except re2.error as exc:
        message = exc.args[0] if exc.args else str(exc)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise PatternError(_explain(str(message))) from None
    if regex.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(f"pattern program too large ({regex.programsize} instructions > {MAX_PROGRAM_SIZE}): "
                           f"its cost per byte of mail grows with it; count ASCII classes ([A-Z]) rather than "
                           f"Unicode ones (\\p{{Lu}}), repeat less, or split it into several rules")
    return regex, expanded


def encode(text: str) -> bytes:
    """Text as the matcher reads it: NFC, UTF-8 (lone surrogates from undecodable mail become '?')."""
    return nfc(text).encode("utf-8", "replace")
