"""Every symbol the checks can emit, from their specs: the names rules may not take
(CONTRACTS.md, "Reserved symbols"), those meta rules and `[scores]` may refer to, and what
`mailguard symbols` lists."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailguard.checks.spec import SymbolFamily, SymbolSpec
from mailguard.checks.specs import SPECS

if TYPE_CHECKING:
    from mailguard.config import Config

# The pipeline's own, for every check (CHECK_TIMEOUT_DNSBL): what went wrong, by the check's name.
PIPELINE_FAMILIES = (
    SymbolFamily("CHECK_ERROR_", "raised an error", open=True),
    SymbolFamily("CHECK_TIMEOUT_", "ran out of its budget", open=True),
)
FAMILIES = PIPELINE_FAMILIES + tuple(family for spec in SPECS for family in spec.families)
RESERVED_PREFIXES = tuple(family.prefix for family in FAMILIES)
OPEN_FAMILIES = tuple(family.prefix for family in FAMILIES if family.open)


@dataclass(frozen=True)
class Declared:
    check: str  # the spec's name
    symbol: SymbolSpec


def declared_symbols(config: Config) -> tuple[Declared, ...]:
    """Every symbol a check can emit with `config`, once each (the first spec naming it)."""
    found: dict[str, Declared] = {}
    for spec in SPECS:
        pipeline = (SymbolSpec(f"{family.prefix}{stage.name}", 0.0, f"the {stage.name} check {family.description}")
                    for stage in spec.stages for family in PIPELINE_FAMILIES)
        for symbol in (*spec.all_symbols(config), *pipeline):
            found.setdefault(symbol.name, Declared(spec.name, symbol))
    return tuple(found.values())


def builtin_symbols(config: Config) -> frozenset[str]:
    """The exact names rules may not take; an open family's members are all taken by its prefix."""
    return frozenset(d.symbol.name for d in declared_symbols(config) if not d.symbol.name.startswith(OPEN_FAMILIES))


def default_score(name: str) -> float:
    """The built-in score of a symbol a spec declares (its static list); 0 for any other name."""
    for spec in SPECS:
        for symbol in spec.symbols:
            if symbol.name == name:
                return symbol.score
    return 0.0
