"""The local lists' spec: `[lists]` with its `[[lists.file]]` tables, and LIST_<NAME> symbols."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailguard.checks.spec import CheckSpec, Stage, SymbolFamily, SymbolSpec

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class ListFile:
    """One named local list: `[[lists.file]]` (README, "Local lists")."""

    name: str = ""  # how rules refer to it; symbols are LIST_<NAME> (upper-cased)
    path: str = ""
    use: Literal["block", "allow", "rules"] = "block"  # rules: only referred to by rules
    score: float = 10.0  # block: added; allow: subtracted
    reject: bool = False  # block: refuse at RCPT time (550 5.7.1) instead of only scoring
    links: bool = False  # domain entries also match the domains of links in the message

    @property
    def symbol(self) -> SymbolSpec:
        name = f"LIST_{self.name.upper()}"
        if self.use == "allow":
            return SymbolSpec(name, -abs(self.score), f"on the allow list {self.name}")
        if self.use == "rules":  # a symbol only where a policy group uses it as an allow or block list
            return SymbolSpec(name, abs(self.score), f"on the list {self.name} (a policy group's)")
        return SymbolSpec(name, abs(self.score), f"on the block list {self.name}")


@dataclass(frozen=True)
class ListsSettings:
    check_seconds: float = 5.0  # how often list files are checked for changes (and on SIGHUP)
    file: tuple[ListFile, ...] = ()


EARLY = Stage("LISTS_EARLY", "mail")
DATA = Stage("LISTS")


def validate(settings: ListsSettings, fail: Fail) -> None:
    if settings.check_seconds <= 0:
        fail("lists", "check_seconds", "must be greater than 0")
    names: set[str] = set()
    for i, lf in enumerate(settings.file):
        if not re.fullmatch(r"[a-z0-9_]+", lf.name):
            fail.item("lists.file", i, "name", f"{lf.name!r}: lower-case letters, digits and '_'")
        if lf.name in names:
            fail.item("lists.file", i, "name", f"{lf.name!r} is used twice")
        names.add(lf.name)
        if not lf.path:
            fail.item("lists.file", i, "path", "a file is required")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    per_group = {g.name: tuple([(n, "allow") for n in g.allow_lists] + [(n, "block") for n in g.block_lists])
                 for g in config.policy.group if g.allow_lists or g.block_lists}
    if not any(f.use != "rules" for f in config.lists.file) and not per_group:
        return []
    from mailguard.lists.check import ListsCheck

    # The DATA one waits for AUTH's results (allow entries need an authenticated sender).
    waits = config.auth.budget_ms / 1000 + 0.5 if config.auth.enabled and not offline else 0.0
    return [EARLY.check(ListsCheck(services.lists, "mail"), budget=1.0),
            DATA.check(ListsCheck(services.lists, "data", per_group), budget=waits + 1.0)]


SPEC = CheckSpec(
    name="LISTS", stages=(EARLY, DATA), build=build,
    configured=lambda config: (f.symbol for f in config.lists.file),
    families=(SymbolFamily("LIST_", "on a local list ([[lists.file]])"),),
    section="lists", settings=ListsSettings, validate=validate, path_keys=("file.path",),
)
