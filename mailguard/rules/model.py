"""The rule values: what a rule file says, once validated."""
from __future__ import annotations

from dataclasses import dataclass

from mailguard.config import ConfigError
from mailguard.scan.verdict import Action

KINDS = ("header", "body", "rawbody", "uri", "full", "envelope", "eval", "meta")
ENVELOPE_FIELDS = ("mail_from", "rcpt", "client_ip", "client_name", "helo")


@dataclass(frozen=True)
class RuleError:
    """One problem, printed as `FILE[:LINE]: RULE: message` (CONTRACTS.md, `rules check`)."""

    file: str
    line: int | None
    rule: str  # the rule's name, "[scores] NAME" for an override, "-" for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.rule}: {self.message}"


class RulesError(ConfigError):
    """Rule files that cannot be used: every problem found, not only the first. A ConfigError, so
    that a start refuses it and a reload keeps what runs."""

    def __init__(self, problems: list[RuleError]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Rule:
    name: str  # the symbol it emits
    kind: str  # one of KINDS
    score: float
    description: str
    file: str
    line: int | None
    action: Action | None = None  # forced when the rule hits
    header: str = ""  # kind "header": the header name ("ALL": every header as "Name: value")
    field: str = ""  # kind "envelope": one of ENVELOPE_FIELDS
    pattern: str = ""  # the regex as written (RE2 syntax, plus \b{w})
    exists: bool | None = None  # kind "header": presence (true) or absence (false)
    equals: str = ""  # kinds "header", "envelope": whole value, compared without case
    list: str = ""  # a named local list ([[lists.file]]) the value is looked up in
    test: str = ""  # kind "eval": a named built-in test
    expression: str = ""  # kind "meta"
    replaces: bool = False  # kind "meta": the parts it names lose their score when it hits

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file
