"""What a check declares about itself (Rspamd's plugins are the model): its name, the pipeline
Checks it contributes and their phases, its config section, its symbols, whether it needs the
network, and how it is built. Each check module exports one `SPEC`; `mailguard.checks.specs`
lists them, and everything that used to list checks by hand reads that list.

`mailguard.config` imports the specs to build its `Config`, so a spec module must not import
`mailguard.config`, or anything that does, when it loads: its type hints go under
TYPE_CHECKING and its check's implementation is imported inside `build`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailguard.scan.pipeline import PHASES, Check, CheckFunction

if TYPE_CHECKING:  # config.py imports the specs; only annotations (strings here) name these
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail

    Build = Callable[[Config, CheckServices, bool], Sequence[Check]]  # (config, services, offline)


@dataclass(frozen=True)
class SymbolSpec:
    """A symbol a check can emit, with its built-in default score (rules may re-score it)."""

    name: str
    score: float
    description: str


@dataclass(frozen=True)
class SymbolFamily:
    """Names starting with `prefix` belong to a check: a rule may not take one. When `open`,
    a meta rule or `[scores]` may name any member (the check makes up the rest of the name);
    otherwise only the members the check declares."""

    prefix: str
    description: str
    open: bool = False


@dataclass(frozen=True)
class Stage:
    """One pipeline Check a spec may contribute: its name (CHECK_ERROR_<NAME>) and phase."""

    name: str
    phase: str = "data"

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"stage {self.name}: phase {self.phase!r} is not one of {', '.join(PHASES)}")

    def check(self, run: CheckFunction, budget: float) -> Check:
        return Check(self.name, run, budget, self.phase)


def _no_validation(settings: Any, fail: Fail) -> None:
    pass


@dataclass(frozen=True)
class CheckSpec:
    name: str  # "AUTH": how `mailguard symbols` names the check
    stages: tuple[Stage, ...]
    build: Build  # the Checks in force for a config: none when the check is off
    symbols: tuple[SymbolSpec, ...] = ()
    configured: Callable[[Config], Iterable[SymbolSpec]] | None = None  # symbols the config names
    families: tuple[SymbolFamily, ...] = ()
    section: str = ""  # its config section ("auth": [auth]); "" for none
    settings: type | None = None  # the section's frozen dataclass: its defaults
    validate: Callable[[Any, Fail], None] = _no_validation  # errors through fail(section, key, message)
    path_keys: tuple[str, ...] = ()  # keys relative to the config file ("site_dir"; "file.path" in [[lists.file]])
    network: bool = False  # needs the network: `scan --offline` leaves it out

    def __post_init__(self) -> None:
        if bool(self.section) != (self.settings is not None):
            raise ValueError(f"check {self.name}: a config section and its settings go together")

    def all_symbols(self, config: Config) -> tuple[SymbolSpec, ...]:
        return self.symbols + tuple(self.configured(config) if self.configured else ())
