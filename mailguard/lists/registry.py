"""The named local lists of the config, re-read when their files change.

A file that cannot be read keeps the list's last good contents (the service runs on and the
log says why); at start there is no last good state, so `load` raises ListError instead. Lines
that are no entry are skipped; `serve` logs them, `config check` reports them as problems.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mailguard.config import ConfigError
from mailguard.lists.contents import ListContents, parse
from mailguard.lists.spec import ListFile, ListsSettings
from mailguard.watch import FileStamp, ReloadPacer, file_stamp

log = logging.getLogger("mailguard.lists")

MAX_REPORTED = 20  # skipped lines named one by one, per list file


class ListError(ConfigError):
    """A list file that cannot be used; the message names the file. A ConfigError, so that a
    start refuses it and a reload keeps the running configuration."""


@dataclass
class LocalList:
    spec: ListFile
    contents: ListContents
    stamp: FileStamp | None = (0, 0, 0)  # of the file read (watch.file_stamp)

    @property
    def name(self) -> str:
        return self.spec.name

    def problem_lines(self) -> list[str]:
        """The lines of the file that were skipped, as `FILE:LINE: list NAME: 'TEXT' skipped: why`
        (the first MAX_REPORTED, then how many more)."""
        problems = self.contents.problems
        out = [f"{self.spec.path}:{p.line}: list {self.name}: {p.text!r} skipped: {p.message}"
               for p in problems[:MAX_REPORTED]]
        if len(problems) > MAX_REPORTED:
            out.append(f"{self.spec.path}: list {self.name}: {len(problems) - MAX_REPORTED} more lines skipped")
        return out


def read_list(spec: ListFile) -> LocalList:
    """The list as its file says now; ListError when the file cannot be read."""
    try:
        stamp = file_stamp(spec.path)
        with open(spec.path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as exc:
        raise ListError(f"{spec.path}: list {spec.name!r}: cannot read: {exc.strerror or exc}") from None
    return LocalList(spec, parse(text), stamp)


@dataclass
class LocalLists:
    settings: ListsSettings
    lists: dict[str, LocalList] = field(default_factory=dict)
    pacer: ReloadPacer = field(default_factory=lambda: ReloadPacer(0.0))

    @classmethod
    def load(cls, settings: ListsSettings, previous: LocalLists | None = None) -> LocalLists:
        """Every list of the settings, read now. A file that fails keeps `previous`'s contents for
        that list when there is one (a reload), else raises ListError (a start)."""
        lists: dict[str, LocalList] = {}
        for spec in settings.file:
            try:
                lists[spec.name] = read_list(spec)
            except ListError as exc:
                old = previous.lists.get(spec.name) if previous else None
                if old is None or old.spec.path != spec.path:
                    raise
                log.error("%s; keeping the %d entries read before", exc, old.contents.size)
                lists[spec.name] = LocalList(spec, old.contents, old.stamp)
        pacer = ReloadPacer(settings.check_seconds)
        pacer.mark()
        return cls(settings, lists, pacer)

    def get(self, name: str) -> LocalList | None:
        return self.lists.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.lists)

    def problem_lines(self) -> list[str]:
        """The skipped lines of every list (LocalList.problem_lines): `config check` reports them,
        `serve` logs them; other commands keep quiet about them."""
        return [line for lst in self.lists.values() for line in lst.problem_lines()]

    def refresh(self, force: bool = False) -> None:
        """Re-read the files changed since they were read, at most every check_seconds."""
        if force or self.pacer.due():
            self._reread()

    def refresh_in_background(self) -> None:
        """refresh() from the event loop: the re-read runs in a worker thread (see ReloadPacer)."""
        self.pacer.in_background(self._reread)

    def _reread(self) -> None:
        for name, current in list(self.lists.items()):
            try:
                if file_stamp(current.spec.path) == current.stamp:
                    continue
                self.lists[name] = read_list(current.spec)
                log.info("list %s reloaded from %s: %d entries", name, current.spec.path,
                         self.lists[name].contents.size)
                for line in self.lists[name].problem_lines():
                    log.warning("%s", line)
            except (OSError, ListError) as exc:
                log.error("list %s: %s; keeping the %d entries read before", name, exc, current.contents.size)
                current.stamp = (0, 0, 0)  # try again at the next check
