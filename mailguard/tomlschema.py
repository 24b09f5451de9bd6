"""TOML → frozen dataclasses, by their fields and type hints: the one validator of the config
file and of the rule files.

`build(cls, table, problems)` makes an instance of the dataclass `cls` from a TOML table. Each
key given is checked against the type hint of the field of its name — bool, int, float, str,
`X | None`, `Literal[...]`, `tuple[X, ...]`, `dict[str, X]`, a nested dataclass (a table) and
`tuple[D, ...]` of a dataclass D (an array of tables) — and a key no field takes is unknown.
Problems are not raised: each goes to the `Problems` collector with its file, its line and its
key path (`("dnsbl", "zone", 0, "codes")`, shown as `[[dnsbl.zone]] #1 codes`), and the field
keeps its default, so that one pass finds every problem of a file. What the caller validates
beyond types (ranges, names, cross-field rules) goes to the same collector.

tomllib gives values without positions, so `Lines` finds them in the text: the header of each
`[table]` and `[[array]]` item, and each `key =` inside it; a key it cannot find (an inline
table, a dotted key) gets the line of its table. No library here (README, "Libraries") because
none reports the line: tomllib, tomli and msgspec.toml all parse without positions.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

KeyPath = tuple[str | int, ...]  # table names and keys; an int is the index in an array of tables

_BAD = object()  # a value that failed its check: the field keeps its default


def label(path: KeyPath) -> str:
    """How a problem names its key: `[server] listen`, `[[dnsbl.zone]] #1 codes`, `rule`."""
    if not path:
        return ""
    *table, key = path
    if isinstance(key, int):  # an item of an array of tables itself
        return _table_label(path)
    if not table:
        return key
    return f"{_table_label(tuple(table))} {key}"


def _table_label(table: KeyPath) -> str:
    names = ".".join(p for p in table if isinstance(p, str))
    if isinstance(table[-1], int):
        return f"[[{names}]] #{table[-1] + 1}"
    return f"[{names}]"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, printed `FILE[:LINE]: [table] key: message`."""

    file: str
    line: int | None
    path: KeyPath  # () for the file as a whole
    message: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {label(self.path)}: {self.message}" if self.path else f"{self.where}: {self.message}"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\s\"'-]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=(.*)$""")


class Lines:
    """The line of every table header and `key =` of a TOML text (the first, for a key given
    twice: tomllib refuses that anyway)."""

    def __init__(self, text: str = "") -> None:
        self._at: dict[KeyPath, int] = {}
        counts: dict[tuple[str, ...], int] = {}
        table: KeyPath = ()
        closing = ""  # inside a multi-line string: its closing quotes
        for number, line in enumerate(text.splitlines(), start=1):
            if closing:
                if line.count(closing) % 2:
                    closing = ""
                continue
            header = _HEADER.match(line)
            if header:
                names = tuple(n.strip().strip("\"'") for n in header.group(2).split("."))
                if header.group(1) == "[[":
                    index = counts.get(names, 0)
                    counts[names] = index + 1
                    table = (*names, index)
                else:
                    table = names
                self._at.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._at.setdefault((*table, key.group(1).strip("\"'")), number)
                rest = key.group(2)
                for quotes in ('"""', "'''"):
                    if rest.count(quotes) % 2:
                        closing = quotes

    def of(self, path: KeyPath) -> int | None:
        """The line of `path`, else of the nearest table around it that is written out."""
        while path:
            if path in self._at:
                return self._at[path]
            path = path[:-1]
        return None


class Problems:
    """The error collector of one file: every problem with the file, line and key path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines = Lines()
        self.found: list[Problem] = []

    def add(self, path: KeyPath, message: str, *, at: KeyPath | None = None, line: int | None = None) -> Problem:
        """Record a problem of `path`; its line is that of `at` (default: `path`) unless given."""
        if line is None:
            line = self.lines.of(tuple(path) if at is None else at)
        problem = Problem(self.file, line, tuple(path), message)
        self.found.append(problem)
        return problem

    def __bool__(self) -> bool:
        return bool(self.found)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.found)

    def read(self, path: Path) -> str | None:
        """The UTF-8 text of a file, None (and a problem) when it cannot be read."""
        try:
            return path.read_bytes().decode("utf-8")
        except OSError as exc:
            self.add((), f"cannot read: {exc.strerror or exc}")
        except UnicodeDecodeError as exc:
            self.add((), f"not UTF-8 text: {exc}")
        return None

    def parse(self, text: str) -> dict[str, Any] | None:
        """The TOML document, None (and a problem with the line tomllib names) on a syntax error."""
        self.lines = Lines(text)
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            self.add((), f"TOML syntax error: {exc}", line=int(m.group(1)) if m else None)
            return None


Convert = Callable[[KeyPath, Any], Any]  # (path, checked value) → the value kept


def build(cls: type, table: Mapping[str, Any], problems: Problems, path: KeyPath = (), *,
          convert: Convert | None = None, unknown: Callable[[str], str] | None = None) -> Any:
    """An instance of the dataclass `cls` from `table`, whose keys are the fields (those with
    `metadata={"toml": False}` excepted). Wrong keys and types go to `problems`; the fields
    they name keep their defaults. `convert` may change each scalar value that passed (paths
    relative to a file, say); `unknown` words the problem of an unknown key at this level."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init and f.metadata.get("toml", True)}
    kwargs: dict[str, Any] = {}
    for key, raw in table.items():
        at = (*path, key)
        if key not in names:
            if unknown is not None:
                problems.add(path, unknown(key), at=at)
            else:
                problems.add(at, "unknown key")
            continue
        value = _value(hints[key], raw, at, problems, convert)
        if value is not _BAD:
            kwargs[key] = value
    return cls(**kwargs)


def _value(hint: Any, raw: Any, at: KeyPath, problems: Problems, convert: Convert | None) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) and type(None) in args:  # X | None: unset is None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = get_origin(hint), get_args(hint)
    dotted = ".".join(p for p in at if isinstance(p, str))
    if dataclasses.is_dataclass(hint):
        if not isinstance(raw, dict):
            problems.add(at, f"expected a table ([{dotted}]), got {raw!r}")
            return _BAD
        return build(hint, raw, problems, at, convert=convert)
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
            problems.add(at, f"expected tables ([[{dotted}]]), got {raw!r}")
            return _BAD
        return tuple(build(args[0], item, problems, (*at, i), convert=convert) for i, item in enumerate(raw))
    if origin is dict:
        if not isinstance(raw, dict):
            problems.add(at, f"expected a table ([{dotted}]), got {raw!r}")
            return _BAD
        out = {}
        for key, item in raw.items():
            value = _value(args[1], item, (*at, key), problems, convert)
            if value is not _BAD:
                out[key] = value
        return out
    if origin is tuple:
        wanted = _wanted(args[0])
        if not isinstance(raw, list) or not all(_scalar(args[0], v) is not _BAD for v in raw):
            problems.add(at, f"expected a list of {_PLURAL.get(wanted, wanted)}, got {raw!r}")
            return _BAD
        return tuple(_scalar(args[0], v) for v in raw)
    value = _scalar(hint, raw)
    if value is _BAD:
        problems.add(at, f"expected {_wanted(hint)}, got {raw!r}")
        return _BAD
    return convert(at, value) if convert is not None else value


def _scalar(hint: Any, raw: Any) -> Any:
    """`raw` as the type `hint` wants (an int for a float), or _BAD. A union of scalars
    (`int | Literal["unlimited"]`) takes the first member that fits."""
    if get_origin(hint) in (Union, types.UnionType):
        for member in get_args(hint):
            value = _scalar(member, raw)
            if value is not _BAD:
                return value
        return _BAD
    if get_origin(hint) is Literal:
        return raw if raw in get_args(hint) and not isinstance(raw, bool) else _BAD
    if hint is float:
        return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else _BAD
    if hint is int:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else _BAD
    if hint in (bool, str):
        return raw if isinstance(raw, hint) else _BAD
    raise TypeError(f"tomlschema: unsupported type {hint!r}")  # a programming error, not a file's


def _wanted(hint: Any) -> str:
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_wanted(member) for member in get_args(hint))
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    return {float: "a number", int: "a whole number", bool: "true or false", str: "a string"}[hint]


_PLURAL = {"a number": "numbers", "a whole number": "whole numbers", "true or false": "true or false values",
           "a string": "strings"}
