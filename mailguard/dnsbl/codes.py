"""A zone's answer codes (`"127.0.0.2=RBL_ZEN_SBL:4.0"`) and what an answer means.

An answer outside 127.0.0.0/8 is never a hit: lists that shut down have been known to answer
every query with a public address ("wildcarding"), which would list the whole internet.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

SYMBOL_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class CodeRule:
    first: int  # the answer as an integer (an address), or the bit value for bitmask zones
    last: int
    symbol: str
    score: float


def parse_code(text: str, bitmask: bool) -> CodeRule:
    """`ANSWER=SYMBOL:SCORE`; ValueError says what is wrong."""
    answer, sep, rest = text.partition("=")
    symbol, sep2, score_text = rest.partition(":")
    if not sep or not sep2:
        raise ValueError(f"{text!r}: expected ANSWER=SYMBOL:SCORE, e.g. \"127.0.0.2=RBL_ZEN_SBL:4.0\"")
    symbol = symbol.strip()
    if not SYMBOL_NAME.match(symbol):
        raise ValueError(f"{text!r}: symbol {symbol!r} must be upper-case letters, digits and '_'")
    try:
        score = float(score_text)
    except ValueError:
        raise ValueError(f"{text!r}: score {score_text.strip()!r} is not a number") from None
    answer = answer.strip()
    if bitmask:
        if not answer.isdigit() or int(answer) <= 0 or int(answer) & (int(answer) - 1):
            raise ValueError(f"{text!r}: in a bitmask zone the answer is a bit value (2, 4, 8, ...)")
        return CodeRule(int(answer), int(answer), symbol, score)
    first_text, _, last_text = answer.partition("-")
    try:
        first = ipaddress.IPv4Address(first_text.strip())
        last = ipaddress.IPv4Address(last_text.strip()) if last_text else first
    except ValueError:
        raise ValueError(f"{text!r}: {answer!r} is not an IPv4 address or FIRST-LAST range") from None
    if first > last or first not in _LOOPBACK or last not in _LOOPBACK:
        raise ValueError(f"{text!r}: answers are in 127.0.0.0/8, FIRST <= LAST")
    return CodeRule(int(first), int(last), symbol, score)


def parse_blocked(text: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 address or network") from None


@dataclass(frozen=True)
class AnswerMeaning:
    hits: tuple[tuple[str, float, str], ...] = ()  # (symbol, score, answer)
    blocked: tuple[str, ...] = ()  # answers saying the query was refused
    ignored: tuple[str, ...] = ()  # answers outside 127/8


def meaning(answers: tuple[str, ...], rules: tuple[CodeRule, ...], bitmask: bool,
            blocked: tuple[ipaddress.IPv4Network, ...], default: tuple[str, float] | None) -> AnswerMeaning:
    hits: dict[str, tuple[str, float, str]] = {}
    refused, ignored = [], []
    for text in answers:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            ignored.append(text)
            continue
        if any(address in net for net in blocked):
            refused.append(text)
            continue
        if address not in _LOOPBACK:
            ignored.append(text)
            continue
        value = int(address)
        if bitmask:  # the low octet's bits; 127.0.0.x's high bits never collide with them
            matched = [r for r in rules if value & r.first]
        else:
            matched = [r for r in rules if r.first <= value <= r.last]
        if not matched and default:
            hits.setdefault(default[0], (default[0], default[1], text))
        for r in matched:
            hits.setdefault(r.symbol, (r.symbol, r.score, text))
    return AnswerMeaning(tuple(hits.values()), tuple(refused), tuple(ignored))
