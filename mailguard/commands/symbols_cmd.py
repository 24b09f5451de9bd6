"""`mailguard symbols [--json]`: every symbol a check can emit, with its check, effective score
(the check's default, then the shipped rules/, then the site's: CONTRACTS.md) and description;
each rule in force is a symbol of the RULES check. Text like rspamd's listing, or JSON Lines."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from mailguard.checks.specs import SPECS
from mailguard.checks.symbols import declared_symbols
from mailguard.config import Config
from mailguard.rules.book import load_context, rule_layers
from mailguard.rules.load import HELPER
from mailguard.rules.model import RulesError
from mailguard.rules.ruleset import RuleSet
from mailguard.rules.spec import SPEC as RULES


@dataclass(frozen=True)
class Listed:
    name: str
    check: str
    score: float
    description: str


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("symbols", help="every symbol a check can emit, with its check, effective score and "
                       "description")
    p.add_argument("--json", action="store_true", help='JSON Lines: {"name", "check", "score", "description"}')
    return p


def listing(cfg: Config, rules: RuleSet) -> list[Listed]:
    """Checks in the pipeline's order, symbols by name within each."""
    found = [Listed(d.symbol.name, d.check, rules.scores.get(d.symbol.name, d.symbol.score), d.symbol.description)
             for d in declared_symbols(cfg)]
    found += [Listed(name, RULES.name, rules.scores.get(name, loaded.rule.score), loaded.rule.description)
              for name, loaded in rules.rules.items() if not name.startswith(HELPER)]
    order = {spec.name: i for i, spec in enumerate(SPECS)}
    return sorted(found, key=lambda s: (order[s.check], s.name))


def as_text(symbols: list[Listed]) -> str:
    name_width = max((len(s.name) for s in symbols), default=0)
    check_width = max((len(s.check) for s in symbols), default=0)
    return "".join(f"{s.name:<{name_width}}  {s.check:<{check_width}}  {s.score:8.2f}  {s.description}".rstrip()
                   + "\n" for s in symbols)


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        rules = RuleSet.load(rule_layers(cfg), load_context(cfg))
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found in the rules",
              file=sys.stderr)
        return 1
    symbols = listing(cfg, rules)
    if args.json:
        sys.stdout.write("".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in symbols))
    else:
        sys.stdout.write(as_text(symbols))
    return 0
