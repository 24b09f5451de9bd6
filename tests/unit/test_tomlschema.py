"""The one TOML validator (config and rules): types by hint, unknown keys, every problem with
file, line and key path."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mailguard.tomlschema import Lines, Problems, build, label


@dataclass(frozen=True)
class Zone:
    zone: str = ""
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    enabled: bool = True
    budget_ms: int = 3000
    ratio: float = 0.5
    mode: Literal["ip", "domain"] = "ip"
    cap: float | None = None
    zone: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class Document:
    dnsbl: Section = field(default_factory=Section)
    scores: dict[str, float] = field(default_factory=dict)
    source: str = field(default="", metadata={"toml": False})


TEXT = '''# a comment
[dnsbl]
enabled = "yes"
budget_ms = 2.5
ratio = 1
mode = "other"
cap = 3
colour = "red"
note = """
[scores]
fake = 1
"""

[[dnsbl.zone]]
zone = "a.example"

[[dnsbl.zone]]
zone = 7
codes = ["x", 1]

[scores]
A = 1
B = "high"
'''


def test_every_problem_with_its_line_and_key_path():
    problems = Problems("f.toml")
    doc = build(Document, problems.parse(TEXT), problems)
    assert [str(p) for p in problems] == [
        "f.toml:3: [dnsbl] enabled: expected true or false, got 'yes'",
        "f.toml:4: [dnsbl] budget_ms: expected a whole number, got 2.5",
        "f.toml:6: [dnsbl] mode: expected one of 'ip', 'domain', got 'other'",
        "f.toml:8: [dnsbl] colour: unknown key",
        "f.toml:9: [dnsbl] note: unknown key",
        "f.toml:18: [[dnsbl.zone]] #2 zone: expected a string, got 7",
        "f.toml:19: [[dnsbl.zone]] #2 codes: expected a list of strings, got ['x', 1]",
        "f.toml:23: [scores] B: expected a number, got 'high'",
    ]
    # what passed is kept (an int where a float is wanted becomes one), the rest keeps its default
    assert doc.dnsbl.ratio == 1.0 and isinstance(doc.dnsbl.ratio, float) and doc.dnsbl.cap == 3.0
    assert doc.dnsbl.enabled is True and doc.dnsbl.budget_ms == 3000
    assert [z.zone for z in doc.dnsbl.zone] == ["a.example", ""]
    assert doc.scores == {"A": 1.0}


def test_fields_outside_the_file_unknown_words_and_tables_of_the_wrong_shape():
    problems = Problems("f.toml")
    data = problems.parse('source = "x"\ndnsbl = 1\n[extra]\n')
    build(Document, data, problems, unknown=lambda key: f"unknown section [{key}]")
    assert [str(p) for p in problems] == ["f.toml:1: unknown section [source]",
                                          "f.toml:2: dnsbl: expected a table ([dnsbl]), got 1",
                                          "f.toml:3: unknown section [extra]"]
    problems = Problems("f.toml")
    build(Document, problems.parse("[dnsbl]\nzone = 1\n"), problems)
    assert str(problems) == "f.toml:2: [dnsbl] zone: expected tables ([[dnsbl.zone]]), got 1"


def test_convert_sees_each_checked_value_with_its_path():
    seen = []
    problems = Problems("f.toml")
    doc = build(Document, problems.parse('[[dnsbl.zone]]\nzone = "a"\n'), problems,
                convert=lambda path, value: seen.append(path) or value.upper())
    assert seen == [("dnsbl", "zone", 0, "zone")] and doc.dnsbl.zone[0].zone == "A"


def test_syntax_errors_reading_and_lines():
    problems = Problems("f.toml")
    assert problems.parse("[a]\nb = \n") is None
    assert str(problems).startswith("f.toml:2: TOML syntax error")
    lines = Lines('top = 1\n[a]\n  key = 2\n"quoted" = 3\n[[a.b]]\n[[a.b]]\nk = 4\n')
    assert lines.of(("top",)) == 1 and lines.of(("a", "key")) == 3 and lines.of(("a", "quoted")) == 4
    assert lines.of(("a", "b", 1, "k")) == 7 and lines.of(("a", "b", 1, "missing")) == 6
    assert lines.of(("nowhere", "key")) is None
    assert label(("a", "b", 0)) == "[[a.b]] #1" and label(("rule",)) == "rule" and label(()) == ""
