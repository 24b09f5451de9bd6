"""Rule files → Rule values, every problem collected with its file, rule name and line.

The file is read into `RuleFileTable` by the config's validator (mailguard.tomlschema: unknown
keys, types, lines: the n-th `[[rule]]` header, the `key =` line inside it); what a rule means
(its kind's keys, names, patterns, lists, expressions) is checked here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mailguard.checks.symbols import RESERVED_PREFIXES
from mailguard.rules import expression
from mailguard.rules.evals import EVALS
from mailguard.rules.model import ENVELOPE_FIELDS, KINDS, Rule, RuleError
from mailguard.rules.patterns import PatternError, compile_pattern
from mailguard.scan.verdict import Action
from mailguard.tomlschema import Problem, Problems, build, label

NAME = re.compile(r"^(?:__)?[A-Z][A-Z0-9_]{0,63}$")
HELPER = "__"  # a name starting so is a sub-rule: for meta rules only, never shown, no score
HEADER_NAME = re.compile(r"^[!-9;-~]{1,100}$")
COMMON_KEYS = ("name", "kind", "score", "description", "action")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "header": ("header", "pattern", "exists", "equals", "list"),
    "body": ("pattern",),
    "rawbody": ("pattern",),
    "full": ("pattern",),
    "uri": ("pattern", "list"),
    "envelope": ("field", "pattern", "equals", "list"),
    "eval": ("test",),
    "meta": ("expression", "replaces"),
}
# Each kind needs exactly one way to match.
MATCH_KEYS: dict[str, tuple[str, ...]] = {
    "header": ("pattern", "exists", "equals", "list"),
    "body": ("pattern",), "rawbody": ("pattern",), "full": ("pattern",),
    "uri": ("pattern", "list"),
    "envelope": ("pattern", "equals", "list"),
    "eval": ("test",),
    "meta": ("expression",),
}
ACTIONS = tuple(a.value for a in Action)


@dataclass(frozen=True)
class Loaded:
    """A rule with what its file compiled to."""

    rule: Rule
    regex: Any = None  # compiled RE2 pattern
    expanded: str = ""  # the pattern as given to RE2 (for an RE2 set)
    expression: expression.Node | None = None


@dataclass
class RuleFile:
    path: str
    rules: list[Loaded] = field(default_factory=list)
    scores: dict[str, tuple[float, int | None]] = field(default_factory=dict)  # name → (score, line)


@dataclass(frozen=True)
class LoadContext:
    """What rule files are checked against: names they may not take, lists they may use."""

    builtins: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleTable:
    """A `[[rule]]` as written: every key of any kind (which apply to a kind: KIND_KEYS)."""

    name: str | None = None
    kind: str | None = None
    score: float | None = None
    description: str = ""
    action: str | None = None
    header: str | None = None
    field: str | None = None
    pattern: str | None = None
    exists: bool | None = None
    equals: str | None = None
    list: str | None = None
    test: str | None = None
    expression: str | None = None
    replaces: bool | None = None


@dataclass(frozen=True)
class RuleFileTable:
    """A rule file as written: `[[rule]]` tables and `[scores]`."""

    rule: tuple[RuleTable, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)


RULE_KEYS = frozenset(f.name for f in fields(RuleTable))
assert RULE_KEYS == set(COMMON_KEYS).union(*KIND_KEYS.values())


def load_file(path: Path, context: LoadContext, problems: list[RuleError]) -> RuleFile:
    where = str(path)
    out = RuleFile(where)
    found = Problems(where)
    text = found.read(path)
    data = found.parse(text) if text is not None else None
    if data is None:
        problems.extend(_rule_error(p, {}) for p in found)
        return out
    read = build(RuleFileTable, data, found, unknown=lambda key: (
        f"unknown key or table {key!r} (a rule file holds [[rule]] tables and [scores])"))
    raw = data.get("rule") if len(read.rule) else []
    names = {i: r.name for i, r in enumerate(read.rule) if r.name}
    own: list[RuleError] = []
    for i, table in enumerate(read.rule):
        loaded = _rule(table, raw[i], i, where, found, context, own)
        if loaded is not None and not any(p.path[:2] == ("rule", i) for p in found):
            out.rules.append(loaded)
    for name, score in read.scores.items():
        out.scores[name] = (score, found.lines.of(("scores", name)))
    mine = [_rule_error(p, names) for p in found] + own
    problems.extend(sorted(mine, key=lambda p: p.line or 0))
    return out


def _rule_error(problem: Problem, names: dict[int, str]) -> RuleError:
    """A problem of the validator, as rule files report it: `FILE[:LINE]: RULE: message`."""
    path = problem.path
    if len(path) >= 2 and path[0] == "rule" and isinstance(path[1], int):
        rule = names.get(path[1]) or f"rule #{path[1] + 1}"
        keys = ".".join(str(p) for p in path[2:])
        return RuleError(problem.file, problem.line, rule, f"{keys}: {problem.message}" if keys else problem.message)
    if len(path) >= 2:  # [scores] NAME
        return RuleError(problem.file, problem.line, label(path), problem.message)
    message = f"{path[0]}: {problem.message}" if path else problem.message
    return RuleError(problem.file, problem.line, "-", message)


def _rule(values: RuleTable, table: dict, index: int, where: str, found: Problems, context: LoadContext,
          problems: list[RuleError]) -> Loaded | None:
    """The rule of the index-th [[rule]] (`values`, as the validator read `table`), or None when
    anything is wrong with it (each problem appended to `problems`)."""
    header_line = found.lines.of(("rule", index))
    name = values.name
    label = name or f"rule #{index + 1}"
    mine: list[RuleError] = []

    def problem(key: str | None, message: str) -> None:
        line = found.lines.of(("rule", index, key) if key else ("rule", index))
        mine.append(RuleError(where, line, label, message))

    kind = values.kind
    if not name:
        problem(None, "'name' is required (upper-case letters, digits and '_')")
    elif not NAME.match(name):
        problem("name", f"name {name!r}: upper-case letters, digits and '_', starting with a letter "
                        f"(or '__' for a sub-rule), at most 64 characters")
    elif name in context.builtins:
        problem("name", f"{name} is a built-in symbol; rename the rule, or re-score the symbol in [scores]")
    elif name.startswith(RESERVED_PREFIXES):
        problem("name", f"{name}: names starting with {', '.join(RESERVED_PREFIXES)} are kept for "
                        f"built-in checks")
    if kind is None:
        if "kind" not in table:
            problem(None, f"'kind' is required: one of {', '.join(KINDS)}")
    elif kind not in KINDS:
        problem("kind", f"kind {kind!r}: expected one of {', '.join(KINDS)}")
        kind = None
    if kind is not None:
        for key in table:
            if key in RULE_KEYS and key not in COMMON_KEYS and key not in KIND_KEYS[kind]:
                problem(key, f"key {key!r} does not apply to kind {kind!r} (it takes: "
                             f"{', '.join(KIND_KEYS[kind])})")
    if "score" not in table and not (name or "").startswith(HELPER):
        problem(None, "'score' is required (a number)")
    action = values.action
    if action is not None and action not in ACTIONS:
        problem("action", f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    regex, expanded, node = None, "", None
    if kind is not None:
        given = [k for k in MATCH_KEYS[kind] if k in table]
        if len(given) != 1:
            wanted = " or ".join(f"'{k}'" for k in MATCH_KEYS[kind])
            problem(given[1] if len(given) > 1 else None,
                    f"kind {kind!r} needs {'exactly one of ' if len(MATCH_KEYS[kind]) > 1 else ''}{wanted}")
        if kind == "header":
            if values.header is None:
                if "header" not in table:
                    problem(None, "kind 'header' needs 'header' (the header name, or \"ALL\")")
            elif not HEADER_NAME.match(values.header):
                problem("header", f"header {values.header!r} is not a header name")
        if kind == "envelope":
            if values.field is None:
                if "field" not in table:
                    problem(None, f"kind 'envelope' needs 'field': one of {', '.join(ENVELOPE_FIELDS)}")
            elif values.field not in ENVELOPE_FIELDS:
                problem("field", f"field {values.field!r}: expected one of {', '.join(ENVELOPE_FIELDS)}")
        if values.pattern is not None:
            try:
                regex, expanded = compile_pattern(values.pattern)
            except PatternError as exc:
                problem("pattern", str(exc))
        if values.list is not None and values.list not in context.lists:
            known = ", ".join(sorted(context.lists)) or "none configured"
            problem("list", f"unknown list {values.list!r} ([[lists.file]] names: {known})")
        if values.test is not None and values.test not in EVALS:
            problem("test", f"unknown test {values.test!r} (known: {', '.join(sorted(EVALS))})")
        if values.expression is not None:
            try:
                node = expression.parse(values.expression)
            except expression.ExpressionError as exc:
                problem("expression", f"expression: {exc}")
        if values.equals is not None and not values.equals.strip():
            problem("equals", "equals: empty" + (" (use exists = false for a missing header)" if kind == "header" else ""))
    problems.extend(mine)
    if mine or name is None or kind is None:
        return None
    score = 0.0 if name.startswith(HELPER) else values.score
    if score is None:
        return None  # a score of the wrong type: the validator reported it
    rule = Rule(name=name, kind=kind, score=score, description=values.description,
                file=where, line=header_line, action=Action(action) if action else None,
                header=values.header or "", field=values.field or "", pattern=values.pattern or "",
                exists=values.exists, equals=values.equals or "", list=values.list or "",
                test=values.test or "", expression=values.expression or "", replaces=bool(values.replaces))
    return Loaded(rule, regex, expanded, node)


def rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())
