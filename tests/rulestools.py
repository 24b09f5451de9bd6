"""Helpers for the rules tests: rule folders written by the test, and scans through them."""
from __future__ import annotations

from pathlib import Path

from mailguard.config import Config
from mailguard.rules.book import load_context
from mailguard.rules.ruleset import RuleSet
from mailguard.rules.spec import RulesSettings
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Check, Pipeline
from mailguard.scan.verdict import Symbol
from scantools import scan_verdict

# An envelope rule refusing one recipient at RCPT (the early refusal of the proxy and milter tests).
SPAMTRAP_RULE = '''[[rule]]
name = "SPAMTRAP_RCPT"
kind = "envelope"
field = "rcpt"
pattern = '^trap@'
score = 10.0
action = "reject"
description = "a spam trap address"
'''

# A body marker scoring between [actions] quarantine and reject: the message is quarantined.
QUARANTINE_RULE = '''[[rule]]
name = "QUARANTINE_MARK"
kind = "body"
pattern = 'quarantine-me'
score = 13.0
description = "scores between [actions] quarantine and reject"
'''

FACTS = MessageFacts(ClientFacts(ip="192.0.2.7", name="mail.sender.example", helo="helo.sender.example"),
                     "alice@sender.example", ("user@test.example",), "Q1")


def write_rules(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load(layers: list[Path], config: Config | None = None) -> RuleSet:
    return RuleSet.load(layers, load_context(config or Config()))


def emitting(*symbols: Symbol) -> Check:
    """A check that emits the given symbols (stands in for AUTH, DNSBL, Bayes...)."""
    async def run(ctx):
        return list(symbols)

    return Check("FAKE", run, budget=1.0)


def scan(rules: RuleSet, raw: bytes, *checks: Check, facts: MessageFacts = FACTS, lists=None):
    """The verdict of the rules (and `checks`) on one message, as the pipeline gives it."""
    from mailguard.lists.registry import LocalLists
    from mailguard.lists.spec import ListsSettings
    from mailguard.rules.check import RulesCheck

    class Book:  # a RuleBook that never reloads
        current = rules
        scores = rules.scores
        finish = rules.finish

    rules_check = Check("RULES", RulesCheck(Book(), lists or LocalLists(ListsSettings())), budget=5.0)
    pipeline = Pipeline((rules_check, *checks), Config().actions, deadline=10.0, rules=rules)
    return scan_verdict(pipeline, facts, raw)


def site_config(site: Path, **sections) -> Config:
    import dataclasses

    return dataclasses.replace(Config(), rules=RulesSettings(site_dir=str(site)), **sections)
