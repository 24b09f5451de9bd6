"""The rules' spec: `[rules]`, and the RULES checks (each rule is a symbol of its own: the rule
files declare them, `mailguard symbols` lists them from the rules in force)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailguard.checks.spec import CheckSpec, Stage

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class RulesSettings:
    site_dir: str = "/etc/mailguard/rules.d"
    budget_ms: int = 1000
    check_seconds: float = 5.0  # how often rule files are checked for changes (and on SIGHUP)


# The envelope rules also run at each RCPT, so that one forcing `reject` refuses that recipient.
EARLY = Stage("RULES_EARLY", "rcpt")
DATA = Stage("RULES")


def validate(settings: RulesSettings, fail: Fail) -> None:
    if settings.check_seconds <= 0:
        fail("rules", "check_seconds", "must be greater than 0")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if services.rules is None:
        return []
    from mailguard.rules.check import RulesCheck

    budget = config.rules.budget_ms / 1000
    return [EARLY.check(RulesCheck(services.rules, services.lists, envelope_only=True), budget),
            DATA.check(RulesCheck(services.rules, services.lists), budget)]


SPEC = CheckSpec(name="RULES", stages=(EARLY, DATA), build=build,
                 section="rules", settings=RulesSettings, validate=validate, path_keys=("site_dir",))
