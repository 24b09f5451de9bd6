"""The RULES check: header, body, rawbody, uri, full, envelope and eval rules (meta rules and
score overrides are applied by the pipeline once every check is done: Pipeline.rules).

The envelope rules also run at each RCPT (RULES_EARLY), so that one forcing `reject` refuses
that recipient at once, as a block list with `reject = true` does."""
from __future__ import annotations

from dataclasses import dataclass

from mailguard.lists.registry import LocalLists
from mailguard.rules.book import RuleBook
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Symbol


@dataclass
class RulesCheck:
    book: RuleBook
    lists: LocalLists
    envelope_only: bool = False  # the RCPT-time check: ctx.raw is still empty

    async def __call__(self, ctx: ScanContext) -> list[Symbol]:
        rules = self.book.current
        if rules.matcher.empty or (self.envelope_only and not rules.matcher.has_envelope):
            return []

        def contents(name: str):
            found = self.lists.get(name)
            return found.contents if found else None

        out = []
        for hit in rules.matcher.run(ctx, contents, self.envelope_only):
            rule = hit.loaded.rule
            out.append(Symbol(rule.name, rules.scores.get(rule.name, rule.score), hit.detail, rule.action,
                              rule.description))
        return out
