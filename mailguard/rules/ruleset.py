"""The rules in force: every layer's files merged (shipped → site → extra folders, later wins),
checked as a whole (meta references, cycles, score names), compiled into matchers."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailguard.checks.symbols import OPEN_FAMILIES
from mailguard.rules import expression
from mailguard.rules.load import HELPER, LoadContext, Loaded, RuleFile, load_file, rule_files
from mailguard.rules.matcher import Matcher
from mailguard.rules.model import RuleError, RulesError
from mailguard.scan.verdict import Symbol, merge_symbols


@dataclass(frozen=True)
class RuleSet:
    rules: Mapping[str, Loaded]  # name → the rule in force
    scores: Mapping[str, float]  # every symbol given a score by rules: rules' own, then [scores]
    metas: tuple[Loaded, ...]  # in an order where a meta comes after the metas it refers to
    matcher: Matcher
    files: tuple[str, ...] = ()
    overridden: frozenset[str] = frozenset()  # the symbols a [scores] table re-scores, rules' own too

    @classmethod
    def empty(cls) -> RuleSet:
        return cls({}, {}, (), Matcher.build([]))

    @classmethod
    def load(cls, layers: Sequence[Path], context: LoadContext) -> RuleSet:
        """The rules of the folders `layers` (in order of precedence, lowest first); a folder
        that does not exist adds nothing. RulesError with every problem found."""
        problems: list[RuleError] = []
        files = [[load_file(path, context, problems) for path in rule_files(layer)]
                 for layer in layers if layer.is_dir()]
        return cls.build(files, context, problems)

    @classmethod
    def build(cls, layers: Sequence[Sequence[RuleFile]], context: LoadContext,
              problems: list[RuleError] | None = None) -> RuleSet:
        problems = list(problems or [])
        rules: dict[str, Loaded] = {}
        for layer in layers:
            seen: dict[str, Loaded] = {}
            for f in layer:
                for loaded in f.rules:
                    first = seen.get(loaded.rule.name)
                    if first is not None:
                        problems.append(RuleError(f.path, loaded.rule.line, loaded.rule.name,
                                                  f"defined twice (first at {first.rule.where})"))
                        continue
                    seen[loaded.rule.name] = loaded
            rules.update(seen)  # a later layer's rule replaces the earlier one of the same name
        known = set(context.builtins) | set(rules)

        def is_known(name: str) -> bool:
            return name in known or name.startswith(OPEN_FAMILIES)

        scores: dict[str, float] = {}
        overridden: set[str] = set()
        for layer in layers:
            for f in layer:
                for loaded in f.rules:
                    if rules.get(loaded.rule.name) is loaded:
                        scores[loaded.rule.name] = loaded.rule.score
            for f in layer:
                for name, (score, line) in f.scores.items():
                    if not is_known(name):
                        problems.append(RuleError(f.path, line, f"[scores] {name}", "unknown symbol: no check "
                                                  "emits it and no rule defines it"))
                        continue
                    scores[name] = score
                    overridden.add(name)
        metas = [r for r in rules.values() if r.expression is not None]
        for meta in metas:
            unknown = sorted(n for n in expression.names(meta.expression) if not is_known(n))
            if unknown:
                problems.append(RuleError(meta.rule.file, meta.rule.line, meta.rule.name,
                                          f"expression refers to unknown symbol{'s' if len(unknown) > 1 else ''} "
                                          f"{', '.join(unknown)}"))
        ordered, cycle_problems = _order(metas)
        problems += cycle_problems
        if problems:
            raise RulesError(problems)
        matcher = Matcher.build([r for r in rules.values() if r.expression is None])
        paths = tuple(f.path for layer in layers for f in layer)
        return cls(rules, scores, tuple(ordered), matcher, paths, frozenset(overridden))

    # -- what the pipeline asks --------------------------------------------------------------
    def finish(self, symbols: Iterable[Symbol]) -> list[Symbol]:
        """The symbols with the meta rules that hold added; a replacing meta takes the score of
        the parts it names (they stay, at 0, so the verdict still shows them)."""
        merged = list(merge_symbols(list(symbols)))
        if not self.metas:
            return [s for s in merged if not s.name.startswith(HELPER)]
        present = {s.name for s in merged}
        replaced: dict[str, str] = {}
        for meta in self.metas:
            assert meta.expression is not None
            if not meta.expression.holds(present):
                continue
            present.add(meta.rule.name)
            parts = sorted(n for n in expression.positive_names(meta.expression) & present - {meta.rule.name}
                           if not n.startswith(HELPER))
            rule = meta.rule
            merged.append(Symbol(rule.name, self.scores.get(rule.name, rule.score),
                                 f"parts: {', '.join(parts)}" if parts else rule.expression, rule.action, rule.description))
            if rule.replaces:
                for part in parts:
                    replaced.setdefault(part, rule.name)
        if replaced:
            merged = [Symbol(s.name, 0.0, "; ".join(d for d in (s.detail, f"replaced by {replaced[s.name]}") if d),
                             s.force, s.description) if s.name in replaced else s for s in merged]
        return [s for s in merged if not s.name.startswith(HELPER)]  # sub-rules served the metas


def _order(metas: list[Loaded]) -> tuple[list[Loaded], list[RuleError]]:
    """Metas in dependency order; a problem for each cycle."""
    by_name = {m.rule.name: m for m in metas}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    ordered: list[Loaded] = []
    problems: list[RuleError] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        meta = by_name[name]
        assert meta.expression is not None
        for dep in sorted(expression.names(meta.expression)):
            if dep not in by_name:
                continue
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep] if dep in path else [name, dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(RuleError(meta.rule.file, meta.rule.line, name,
                                              f"meta rules form a cycle: {' -> '.join(cycle)}"))
                continue
            if state.get(dep) is None:
                visit(dep, path + [dep])
        state[name] = 2
        ordered.append(meta)

    for name in sorted(by_name):
        if name not in state:
            visit(name, [name])
    return ordered, problems
