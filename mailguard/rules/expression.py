"""Meta expressions: symbol names combined with `&&`, `||`, `!`, parentheses and counts.

    SPF_FAIL && (SUBJ_FREE_MONEY || 2 of (BODY_A, BODY_B, BAYES_SPAM)) && !DKIM_VALID

A name is true when that symbol is in the scan's results (whatever its score). `N of (a, b, ...)`
is true when at least N of its items are. `&&` binds tighter than `||`; `!` tightest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(?P<op>&&|\|\||[!(),])|(?P<num>\d+)(?![A-Za-z0-9_])|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Name:
    name: str

    def holds(self, present: set[str]) -> bool:
        return self.name in present


@dataclass(frozen=True)
class Not:
    item: Node

    def holds(self, present: set[str]) -> bool:
        return not self.item.holds(present)


@dataclass(frozen=True)
class AtLeast:
    count: int
    items: tuple[Node, ...]

    def holds(self, present: set[str]) -> bool:
        hits = 0
        for item in self.items:
            hits += item.holds(present)
            if hits >= self.count:
                return True
        return False


Node = Name | Not | AtLeast


def _all(items: list[Node]) -> Node:
    return items[0] if len(items) == 1 else AtLeast(len(items), tuple(items))


def _any(items: list[Node]) -> Node:
    return items[0] if len(items) == 1 else AtLeast(1, tuple(items))


def names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Not):
        return names(node.item)
    return set().union(*(names(i) for i in node.items))


def positive_names(node: Node) -> set[str]:
    """The names that count toward the expression being true (not under a `!`): the parts a
    replacing composite takes the score of."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Not):
        return set()
    return set().union(*(positive_names(i) for i in node.items))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if not text[pos:].strip():
                    break
                at = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise ExpressionError(f"unexpected {text[at:at + 10]!r} at column {at + 1}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"expression ends early{f', expected {value!r}' if value else ''}")
        if value is not None and token[1] != value:
            raise ExpressionError(f"expected {value!r} at column {token[2] + 1}, found {token[1]!r}")
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self.or_()
        token = self.peek()
        if token is not None:
            raise ExpressionError(f"unexpected {token[1]!r} at column {token[2] + 1}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while (t := self.peek()) and t[1] == "||":
            self.take()
            items.append(self.and_())
        return _any(items)

    def and_(self) -> Node:
        items = [self.unary()]
        while (t := self.peek()) and t[1] == "&&":
            self.take()
            items.append(self.unary())
        return _all(items)

    def unary(self) -> Node:
        token = self.take()
        kind, value, col = token
        if value == "!":
            return Not(self.unary())
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "num":
            count = int(value)
            self.take("of")
            self.take("(")
            items = [self.or_()]
            while (t := self.peek()) and t[1] == ",":
                self.take()
                items.append(self.or_())
            self.take(")")
            if not 1 <= count <= len(items):
                raise ExpressionError(f"'{count} of' needs from 1 to {len(items)} (the number of items) "
                                      f"at column {col + 1}")
            return AtLeast(count, tuple(items))
        if kind == "name":
            if value == "of":
                raise ExpressionError(f"'of' without a count at column {col + 1}")
            return Name(value)
        raise ExpressionError(f"unexpected {value!r} at column {col + 1}")


def parse(text: str) -> Node:
    return _Parser(text).parse()
