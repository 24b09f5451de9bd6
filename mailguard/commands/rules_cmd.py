"""`mailguard rules check [DIR...]`: load the shipped rules, the site's and DIRs as the proxy
would, and print every problem as `FILE[:LINE]: RULE: message` (CONTRACTS.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mailguard.config import Config
from mailguard.rules.book import load_context, rule_layers
from mailguard.rules.model import RuleError, RulesError
from mailguard.rules.ruleset import RuleSet


def check(args: argparse.Namespace, cfg: Config) -> int:
    problems: list[RuleError] = [RuleError(d, None, "-", "not a folder") for d in args.dirs if not Path(d).is_dir()]
    rules = None
    try:
        rules = RuleSet.load(rule_layers(cfg, args.dirs), load_context(cfg))
    except RulesError as exc:
        problems += exc.problems
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems or rules is None:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", file=sys.stderr)
        return 1
    print(f"ok: {len(rules.rules)} rules ({len(rules.metas)} meta) and {len(rules.overridden)} score overrides "
          f"from {len(rules.files)} files", file=sys.stderr)
    return 0
