"""Re-reading files the admin edits (local lists, rule files, the Bayes model): when they
changed, and how often and where to look. `serve` looks on a timer (FileWatch), whether mail
arrives or not: the first message after `mailguard train` is scored with the new model."""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger("mailguard.watch")

FileStamp = tuple[int, int, int]  # (inode, size, mtime_ns): a replaced or edited file changes it


def file_stamp(path: str | os.PathLike) -> FileStamp | None:
    """The file's stamp now; None when it does not exist (other OSErrors are the caller's)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class ReloadPacer:
    """Says when a re-read is due (at most every `every` seconds), and runs it in a worker thread
    when asked from the event loop: parsing a 100,000-line list or compiling a rule set takes up
    to a second or two, and no session should wait for it. Until the new state is ready, the old
    one serves; the swap is one attribute assignment, so readers see one or the other."""

    every: float
    checked_at: float = 0.0
    running: asyncio.Future | None = field(default=None, repr=False)

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < self.every or (self.running is not None and not self.running.done()):
            return False
        self.checked_at = now  # marked before the work: concurrent callers do not all re-read
        return True

    def mark(self) -> None:
        self.checked_at = time.monotonic()

    def in_background(self, reread: Callable[[], None]) -> None:
        """reread() in a worker thread if due; returns at once."""
        if self.due():
            self.running = asyncio.get_running_loop().run_in_executor(None, reread)
            self.running.add_done_callback(_log_failure)


@dataclass
class FileWatch:
    """The timer of `serve`: every `every` seconds (`tick`), each re-read of the current runtime
    is asked; its own pacer says whether it is due and runs it in a worker thread."""

    rereads: Callable[[], Iterable[Callable[[], None]]]  # those of the runtime in force now
    every: float = 1.0

    def tick(self) -> None:
        for reread in self.rereads():
            try:
                reread()
            except Exception:  # one failing must not stop the others, nor the timer
                log.exception("re-reading files failed")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.tick()


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("re-reading files failed", exc_info=future.exception())
