"""Rule files → Rule values, every problem collected with its file, rule name and line.

tomllib gives no line numbers for values, so lines are found the way config.py finds them:
the n-th `[[rule]]` header of the file, and the `key =` line inside it.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailguard.checks.symbols import RESERVED_PREFIXES
from mailguard.config import _line_of, _line_of_item
from mailguard.rules import expression
from mailguard.rules.evals import EVALS
from mailguard.rules.model import ENVELOPE_FIELDS, KINDS, Rule, RuleError
from mailguard.rules.patterns import PatternError, compile_pattern
from mailguard.scan.verdict import Action

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
TYPES: dict[str, tuple[type, str]] = {
    "name": (str, "a string"), "kind": (str, "a string"), "score": (float, "a number"),
    "description": (str, "a string"), "action": (str, "a string"), "header": (str, "a string"),
    "field": (str, "a string"), "pattern": (str, "a string"), "exists": (bool, "true or false"),
    "equals": (str, "a string"), "list": (str, "a string"), "test": (str, "a string"),
    "expression": (str, "a string"), "replaces": (bool, "true or false"),
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


def _typed(key: str, value: Any) -> Any:
    kind, wanted = TYPES[key]
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(wanted)
        return float(value)
    if not isinstance(value, kind):
        raise TypeError(wanted)
    return value


def load_file(path: Path, context: LoadContext, problems: list[RuleError]) -> RuleFile:
    where = str(path)
    out = RuleFile(where)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        problems.append(RuleError(where, None, "-", f"cannot read: {exc.strerror or exc}"))
        return out
    except UnicodeDecodeError as exc:
        problems.append(RuleError(where, None, "-", f"not UTF-8 text: {exc}"))
        return out
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        problems.append(RuleError(where, int(m.group(1)) if m else None, "-", f"TOML syntax error: {exc}"))
        return out
    for key, value in data.items():
        if key == "rule":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(RuleError(where, _line_of(text, "", "rule"), "-",
                                          "'rule' must be tables: [[rule]]"))
                continue
            for i, table in enumerate(value):
                loaded = _rule(table, i, where, text, context, problems)
                if loaded is not None:
                    out.rules.append(loaded)
        elif key == "scores":
            if not isinstance(value, dict):
                problems.append(RuleError(where, _line_of(text, "", "scores"), "-",
                                          "'scores' must be a table: [scores]"))
                continue
            for name, score in value.items():
                line = _line_of(text, "scores", name)
                if isinstance(score, bool) or not isinstance(score, (int, float)):
                    problems.append(RuleError(where, line, f"[scores] {name}", f"expected a number, got {score!r}"))
                    continue
                out.scores[name] = (float(score), line)
        else:
            line = _line_of(text, key, None) or _line_of(text, "", key)
            problems.append(RuleError(where, line, "-", f"unknown key or table {key!r} "
                                                        f"(a rule file holds [[rule]] tables and [scores])"))
    return out


def _rule(table: dict, index: int, where: str, text: str, context: LoadContext,
          problems: list[RuleError]) -> Loaded | None:
    header_line = _line_of_item(text, "rule", index, None)
    name = table.get("name")
    label = name if isinstance(name, str) and name else f"rule #{index + 1}"
    found: list[RuleError] = []

    def problem(key: str | None, message: str) -> None:
        line = (_line_of_item(text, "rule", index, key) if key else None) or header_line
        found.append(RuleError(where, line, label, message))

    kind = table.get("kind")
    if not isinstance(name, str) or not name:
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
        problem(None, f"'kind' is required: one of {', '.join(KINDS)}")
    elif kind not in KINDS:
        problem("kind", f"kind {kind!r}: expected one of {', '.join(KINDS)}")
        kind = None
    allowed = set(COMMON_KEYS) | set(KIND_KEYS.get(kind or "", ()))
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in TYPES and key not in COMMON_KEYS:
            problem(key, f"unknown key {key!r}")
            continue
        if kind is not None and key not in allowed:
            problem(key, f"key {key!r} does not apply to kind {kind!r} (it takes: "
                         f"{', '.join(KIND_KEYS[kind])})")
            continue
        try:
            values[key] = _typed(key, value)
        except TypeError as exc:
            problem(key, f"{key}: expected {exc}, got {value!r}")
    if "score" not in table and not (isinstance(name, str) and name.startswith(HELPER)):
        problem(None, "'score' is required (a number)")
    action = values.get("action")
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
            header = values.get("header")
            if header is None:
                problem(None, "kind 'header' needs 'header' (the header name, or \"ALL\")")
            elif not HEADER_NAME.match(header):
                problem("header", f"header {header!r} is not a header name")
        if kind == "envelope":
            fld = values.get("field")
            if fld is None:
                problem(None, f"kind 'envelope' needs 'field': one of {', '.join(ENVELOPE_FIELDS)}")
            elif fld not in ENVELOPE_FIELDS:
                problem("field", f"field {fld!r}: expected one of {', '.join(ENVELOPE_FIELDS)}")
        if "pattern" in values:
            try:
                regex, expanded = compile_pattern(values["pattern"])
            except PatternError as exc:
                problem("pattern", str(exc))
        if "list" in values and values["list"] not in context.lists:
            known = ", ".join(sorted(context.lists)) or "none configured"
            problem("list", f"unknown list {values['list']!r} ([[lists.file]] names: {known})")
        if "test" in values and values["test"] not in EVALS:
            problem("test", f"unknown test {values['test']!r} (known: {', '.join(sorted(EVALS))})")
        if "expression" in values:
            try:
                node = expression.parse(values["expression"])
            except expression.ExpressionError as exc:
                problem("expression", f"expression: {exc}")
        if "equals" in values and not values["equals"].strip():
            problem("equals", "equals: empty" + (" (use exists = false for a missing header)" if kind == "header" else ""))
    problems.extend(found)
    if found:
        return None
    score = 0.0 if name.startswith(HELPER) else values["score"]
    rule = Rule(name=name, kind=kind, score=score, description=values.get("description", ""),
                file=where, line=header_line, action=Action(action) if action else None,
                header=values.get("header", ""), field=values.get("field", ""),
                pattern=values.get("pattern", ""), exists=values.get("exists"),
                equals=values.get("equals", ""), list=values.get("list", ""), test=values.get("test", ""),
                expression=values.get("expression", ""), replaces=values.get("replaces", False))
    return Loaded(rule, regex, expanded, node)


def rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())
