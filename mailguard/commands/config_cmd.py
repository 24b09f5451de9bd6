"""`mailguard config check`: would `serve` start with this config? The file itself, and what
serve refuses to start on besides it: the local list files (and their lines that serve would
skip), the never-block list of spam reports, the rule files (every problem, as
`rules check` prints them) and the TLS certificate. Exit 0 when clean, 1 otherwise.

`--effective` also prints the settings in force as TOML on stdout: every key of every section,
the defaults merged with the file (and with --state-dir), relative paths made absolute. The
output is itself a config file that loads into the same settings."""
from __future__ import annotations

import sys

import tomli_w

from mailguard.config import Config, ConfigError, as_toml_data


def check(cfg: Config, effective: bool = False) -> int:
    from mailguard.lists.registry import LocalLists
    from mailguard.reports.never_block import NeverBlock
    from mailguard.rules.book import load_context, rule_layers
    from mailguard.rules.model import RulesError
    from mailguard.rules.ruleset import RuleSet
    from mailguard.smtp.server import tls_context_for

    problems: list[str] = []
    try:
        problems += LocalLists.load(cfg.lists).problem_lines()  # a skipped line is a problem here
    except ConfigError as exc:
        problems.append(str(exc))
    if cfg.reports.enabled:
        try:
            problems += NeverBlock.load(cfg.reports.never_block, cfg.reports.local_domains).problem_lines()
        except ConfigError as exc:
            problems.append(str(exc))
    try:
        RuleSet.load(rule_layers(cfg), load_context(cfg))
    except RulesError as exc:
        problems += [str(p) for p in exc.problems]
    try:
        tls_context_for(cfg)
    except ConfigError as exc:
        problems.append(str(exc))
    if effective:
        sys.stdout.write(f"# The effective configuration of {cfg.source}: the defaults merged with it.\n"
                         + tomli_w.dumps(as_toml_data(cfg)))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{cfg.source}: {len(problems)} problem{'s' if len(problems) != 1 else ''} found", file=sys.stderr)
        return 1
    print(f"{cfg.source}: ok", file=sys.stderr)
    return 0
