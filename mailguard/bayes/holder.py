"""The model a process scores with: loaded once, reloaded when its file changes, last good kept.

A missing file means no model (no Bayes symbols, not an error). A file that fails to load is
logged as an error naming it, and the last good model (if any) stays in use. The file is read at
start and on every reload of the config (SIGHUP), at once like the config itself; between
those, the scan path checks it at most every `check_seconds` (one stat) and loads a changed
file in a worker thread, off the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and scikit-learn are imported once a model file exists
    from mailguard.bayes.model import BayesModel, Hasher

log = logging.getLogger("mailguard.bayes")


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class ModelHolder:
    path: Path
    check_seconds: float = 5.0
    model: BayesModel | None = None
    hasher: Hasher | None = None
    refused: bool = False  # the file exists but failed to load (autolearn must not overwrite it)
    _signature: tuple[int, int, int] | None = None
    _checked: float = 0.0
    _loading: asyncio.Task | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: Path, previous: ModelHolder | None = None) -> ModelHolder:
        """Load now (start-up, SIGHUP); keeps `previous`'s model when the file fails or is unchanged."""
        holder = cls(path)
        if previous is not None and previous.path == path:
            holder.model, holder.hasher, holder._signature = previous.model, previous.hasher, previous._signature
        holder.refresh()
        return holder

    def refresh(self) -> None:
        """Re-read the file if it changed since it was last read (blocking)."""
        self._checked = time.monotonic()
        signature = _signature(self.path)
        if signature == self._signature and (self.model is not None or signature is None):
            return
        self._install(signature, self._read(signature))

    def _read(self, signature) -> BayesModel | None | Exception:
        if signature is None:
            return None
        from mailguard.bayes import persist

        try:
            return persist.load(self.path)
        except FileNotFoundError:
            return None
        except persist.ModelFileError as exc:
            return exc

    def _install(self, signature, loaded: BayesModel | None | Exception) -> None:
        self._signature = signature
        self.refused = isinstance(loaded, Exception)
        if isinstance(loaded, Exception):
            kept = "keeping the model loaded before" if self.model is not None else "running without Bayes"
            log.error("Bayes model refused: %s; %s", loaded, kept)
            return
        if loaded is None and self.model is not None:
            log.warning("Bayes model %s is gone; running without Bayes", self.path)
        self.model = loaded
        if loaded is not None:
            from mailguard.bayes.model import Hasher

            if self.hasher is None or self.hasher.bits != loaded.bits:
                self.hasher = Hasher(loaded.bits)
            log.info("Bayes model %s loaded: %d spam, %d ham learnt", self.path, loaded.nspam, loaded.nham)

    def adopt(self, model: BayesModel) -> None:
        """`model` was just written to the file by this process (autolearn): use it, don't re-read it."""
        from mailguard.bayes.model import Hasher

        self.model, self.refused = model, False
        if self.hasher is None or self.hasher.bits != model.bits:
            self.hasher = Hasher(model.bits)
        self._signature = _signature(self.path)

    def poll(self) -> None:
        """From the scan path: at most every check_seconds, start a reload if the file changed."""
        now = time.monotonic()
        if now - self._checked < self.check_seconds or (self._loading and not self._loading.done()):
            return
        self._checked = now
        signature = _signature(self.path)
        if signature == self._signature:
            return

        async def reload() -> None:
            loaded = await asyncio.to_thread(self._read, signature)
            self._install(signature, loaded)

        self._loading = asyncio.get_running_loop().create_task(reload())
