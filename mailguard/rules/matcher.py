"""Matching the content and envelope rules against one message.

Patterns of one target (the body, the Subject header, the links, ...) go into one RE2 set, so
the text is encoded once and scanned once however many rules look at it; only the rules the
set reports are run again alone, to show what matched. Everything here is linear in the size
of the message (RE2), and the message's own caps bound that size.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import re2

from mailguard.rules.evals import EVALS
from mailguard.rules.load import Loaded
from mailguard.rules.patterns import encode
from mailguard.scan.text import nfc

CLIP = 80  # characters of matched text shown in a symbol's detail


def clip(text: str) -> str:
    text = " ".join(text.split()) if any(c in text for c in "\r\n\t") else text.strip()
    return text if len(text) <= CLIP else text[:CLIP] + "…"


SET_SIZE = 32  # patterns per RE2 set: larger sets build their DFA slowly on first use
SET_MEM = 16 << 20  # bytes per set: its program and DFA cache (more memory, little speed)


def _compile_sets(rules: Sequence[Loaded], start: int = 0) -> list[tuple[int, object]]:
    """(index of its first rule, RE2 set) covering `rules`; a set too large is split in halves."""
    if len(rules) < 2:
        return [(start, None)] if rules else []
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = SET_MEM
    rset = re2.Set.SearchSet(opts)
    for loaded in rules:
        rset.Add(loaded.expanded)
    try:
        rset.Compile()
    except re2.error:
        half = len(rules) // 2
        return _compile_sets(rules[:half], start) + _compile_sets(rules[half:], start + half)
    return [(start, rset)]


@dataclass(frozen=True)
class _Group:
    """The pattern rules over one target, in RE2 sets."""

    rules: tuple[Loaded, ...]
    sets: tuple[tuple[int, object | None], ...]  # (first rule index, its set; None: that rule alone)

    @classmethod
    def build(cls, rules: Sequence[Loaded]) -> _Group:
        # Every pattern is within patterns.MAX_PROGRAM_SIZE (larger ones are refused at load, as
        # they would slow down a set's DFA for every pattern in it), so all go into sets.
        sets: list[tuple[int, object | None]] = []
        for start in range(0, len(rules), SET_SIZE):
            sets += _compile_sets(rules[start:start + SET_SIZE], start)
        return cls(tuple(rules), tuple(sets))

    def matches(self, values: Iterable[bytes]) -> dict[int, bytes]:
        """Rule index → the first text it matched, over all values."""
        found: dict[int, bytes] = {}
        for value in values:
            for start, rset in self.sets:
                if rset is None:
                    indices = [start] if self.rules[start].regex.search(value) else []
                else:
                    indices = [start + i for i in rset.Match(value) or ()]
                for i in indices:
                    if i not in found:
                        m = self.rules[i].regex.search(value)
                        found[i] = m.group(0) if m else b""
            if len(found) == len(self.rules):
                break
        return found


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@dataclass(frozen=True)
class Hit:
    loaded: Loaded
    detail: str


@dataclass(frozen=True)
class Matcher:
    headers: dict[str, _Group]  # lower-case header name ("all") → its pattern rules
    texts: dict[str, _Group]  # "body" | "rawbody" | "full" | "uri"
    envelope: dict[str, _Group]  # field → its pattern rules
    others: tuple[Loaded, ...]  # exists / equals / list / eval rules

    @classmethod
    def build(cls, rules: Iterable[Loaded]) -> Matcher:
        headers: dict[str, list[Loaded]] = {}
        texts: dict[str, list[Loaded]] = {}
        envelope: dict[str, list[Loaded]] = {}
        others: list[Loaded] = []
        for loaded in rules:
            rule = loaded.rule
            if loaded.regex is None:
                others.append(loaded)
            elif rule.kind == "header":
                headers.setdefault(rule.header.lower(), []).append(loaded)
            elif rule.kind == "envelope":
                envelope.setdefault(rule.field, []).append(loaded)
            else:
                texts.setdefault(rule.kind, []).append(loaded)
        return cls({k: _Group.build(v) for k, v in headers.items()},
                   {k: _Group.build(v) for k, v in texts.items()},
                   {k: _Group.build(v) for k, v in envelope.items()}, tuple(others))

    @property
    def empty(self) -> bool:
        return not (self.headers or self.texts or self.envelope or self.others)

    @property
    def has_envelope(self) -> bool:
        return bool(self.envelope) or any(o.rule.kind == "envelope" for o in self.others)

    def run(self, ctx, lookup_list: Callable[[str], object | None], envelope_only: bool = False) -> list[Hit]:
        """The rules that hit, with what matched. `lookup_list(name)` gives a ListContents.
        `envelope_only`: the envelope rules alone (before the message exists)."""
        hits: list[Hit] = []
        others = [o for o in self.others if o.rule.kind == "envelope"] if envelope_only else self.others
        headers, texts = ({}, {}) if envelope_only else (self.headers, self.texts)
        msg = ctx.message if (headers or texts or any(o.rule.kind != "envelope" for o in others)) else None
        for name, group in headers.items():
            if name == "all":
                values = ["\n".join(f"{n}: {v}" for n, v in msg.headers)]
            else:
                values = msg.headers_named(name)
            for i, matched in group.matches(encode(v) for v in values).items():
                rule = group.rules[i].rule
                shown = rule.header if name != "all" else "header"
                hits.append(Hit(group.rules[i], f"{shown}: \"{clip(_text(matched))}\""))
        for kind, group in texts.items():
            if kind == "body":
                values = [encode(msg.text)]
            elif kind == "rawbody":
                values = [encode(p.html or p.raw_text or p.text) for p in msg.parts if not p.is_attachment and p.is_text]
            elif kind == "full":
                values = [ctx.raw]
            else:  # uri
                values = [encode(link.url) for link in msg.links]
            for i, matched in group.matches(values).items():
                hits.append(Hit(group.rules[i], f"\"{clip(_text(matched))}\""))
        for fld, group in self.envelope.items():
            values = [encode(v) for v in _envelope_values(ctx.facts, fld) if v]
            for i, matched in group.matches(values).items():
                hits.append(Hit(group.rules[i], f"{fld} \"{clip(_text(matched))}\""))
        for loaded in others:
            detail = _other(loaded, ctx, msg, lookup_list)
            if detail is not None:
                hits.append(Hit(loaded, detail))
        return hits


def _envelope_values(facts, fld: str) -> list[str]:
    client = facts.client
    return {"mail_from": [facts.mail_from], "rcpt": list(facts.rcpts), "client_ip": [client.ip or ""],
            "client_name": [client.name or ""], "helo": [client.helo or ""]}[fld]


def _other(loaded: Loaded, ctx, msg, lookup_list) -> str | None:
    rule = loaded.rule
    if rule.kind == "eval":
        return EVALS[rule.test](msg)
    if rule.kind == "header":
        values = msg.headers_named(rule.header)
        if rule.exists is not None:
            if rule.exists and values:
                return f"{rule.header} present"
            return f"no {rule.header} header" if not rule.exists and not values else None
        if rule.equals:
            wanted = nfc(rule.equals.strip()).casefold()
            same = next((v for v in values if nfc(v.strip()).casefold() == wanted), None)
            return f"{rule.header}: \"{clip(same)}\"" if same is not None else None
        contents = lookup_list(rule.list)
        if contents is None:
            return None
        for address in (a.address for a in msg.addresses(rule.header)):
            entry = contents.match_address(address) if "@" in address else None
            if entry:
                return f"{rule.header} {address} on list {rule.list} ({entry})"
        return None
    if rule.kind == "envelope":
        values = [v for v in _envelope_values(ctx.facts, rule.field) if v]
        if rule.equals:
            wanted = rule.equals.strip().casefold()
            same = next((v for v in values if v.strip().casefold() == wanted), None)
            return f"{rule.field} \"{clip(same)}\"" if same is not None else None
        contents = lookup_list(rule.list)
        if contents is None:
            return None
        for value in values:
            if rule.field in ("mail_from", "rcpt"):
                entry = contents.match_address(value)
            elif rule.field == "client_ip":
                entry = contents.match_ip(value)
            else:
                entry = contents.match_domain(value)
            if entry:
                return f"{rule.field} {value} on list {rule.list} ({entry})"
        return None
    if rule.kind == "uri":
        contents = lookup_list(rule.list)
        if contents is None:
            return None
        for link in msg.links:
            entry = (contents.match_domain(link.host) if not link.ip else contents.match_ip(link.ip))
            if entry:
                return f"link {clip(link.url)} on list {rule.list} ({entry})"
    return None
