"""The rule set a process runs with: loaded at start (refusing to start on errors), reloaded
on SIGHUP and when a rule file changes; a reload that fails keeps the last good set running and
logs every problem."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailguard.config import Config
from mailguard.rules.load import LoadContext, rule_files
from mailguard.rules.model import RulesError
from mailguard.rules.ruleset import RuleSet
from mailguard.scan.verdict import Symbol
from mailguard.watch import FileStamp, ReloadPacer, file_stamp

log = logging.getLogger("mailguard.rules")

Snapshot = tuple[tuple[str, FileStamp], ...]


def rule_layers(config: Config, extra: Iterable[str | Path] = ()) -> list[Path]:
    """Folders in order of precedence, lowest first: shipped rules/, the site's, then `extra`."""
    from mailguard.paths import shipped_rules_dir

    return [shipped_rules_dir(), Path(config.rules.site_dir), *(Path(p) for p in extra)]


def load_context(config: Config) -> LoadContext:
    from mailguard.checks.symbols import builtin_symbols

    return LoadContext(builtin_symbols(config), frozenset(f.name for f in config.lists.file))


def _snapshot(layers: Sequence[Path]) -> Snapshot:
    out = []
    for layer in layers:
        try:
            for path in rule_files(layer):
                if (stamp := file_stamp(path)) is not None:
                    out.append((str(path), stamp))
        except OSError:
            continue
    return tuple(out)


@dataclass
class RuleBook:
    layers: tuple[Path, ...]
    context: LoadContext
    current: RuleSet
    snapshot: Snapshot = ()
    pacer: ReloadPacer = field(default_factory=lambda: ReloadPacer(0.0))
    refused: bool = False  # the files as they are now failed to load: `current` is an older set

    @classmethod
    def load(cls, config: Config, previous: RuleBook | None = None) -> RuleBook:
        """The rules for `config`. At start (no `previous`) problems raise RulesError; on a
        reload they are logged and `previous`'s rules stay."""
        layers = tuple(rule_layers(config))
        context = load_context(config)
        snapshot = _snapshot(layers)
        if (previous is not None and not previous.refused and previous.snapshot == snapshot
                and previous.layers == layers and previous.context == context):
            # Nothing changed (a SIGHUP for the config): keep the compiled sets and their warm DFAs.
            return cls(layers, context, previous.current, snapshot, _pacer(config))
        refused = False
        try:
            current = RuleSet.load(layers, context)
        except RulesError as exc:
            if previous is None:
                raise
            _log_refused(exc)
            current, refused = previous.current, True
        else:
            _log_loaded(current)
        return cls(layers, context, current, snapshot, _pacer(config), refused)

    def refresh(self, force: bool = False) -> None:
        """Reload when a rule file was added, removed or changed (checked every check_seconds)."""
        if force or self.pacer.due():
            self._reload_if_changed()

    def refresh_in_background(self) -> None:
        """refresh() from the event loop: compiling runs in a worker thread (see ReloadPacer)."""
        self.pacer.in_background(self._reload_if_changed)

    def _reload_if_changed(self) -> None:
        snapshot = _snapshot(self.layers)
        if snapshot == self.snapshot:
            return
        self.snapshot = snapshot  # a broken edit is reported once, not at every check
        try:
            self.current = RuleSet.load(self.layers, self.context)
        except RulesError as exc:
            self.refused = True
            _log_refused(exc)
            return
        self.refused = False
        _log_loaded(self.current)

    # -- what the pipeline asks (see Pipeline.rules) -----------------------------------------
    @property
    def scores(self) -> Mapping[str, float]:
        return self.current.scores

    def finish(self, symbols: Iterable[Symbol]) -> list[Symbol]:
        return self.current.finish(symbols)


def _pacer(config: Config) -> ReloadPacer:
    pacer = ReloadPacer(config.rules.check_seconds)
    pacer.mark()
    return pacer


def _log_refused(exc: RulesError) -> None:
    log.error("rules reload refused, keeping the last good rules (%d problem%s):", len(exc.problems),
              "s" if len(exc.problems) != 1 else "")
    for problem in exc.problems:
        log.error("%s", problem)


def _log_loaded(rules: RuleSet) -> None:
    log.info("rules loaded: %d rules from %d files, %d score overrides", len(rules.rules), len(rules.files),
             len(rules.overridden))
