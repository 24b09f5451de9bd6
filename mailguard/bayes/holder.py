"""The model a process scores with: loaded once, reloaded when its file changes, last good kept.

A missing file means no model (no Bayes symbols, not an error). A file that fails to load is
logged as an error naming it, and the last good model (if any) stays in use. The file is read at
start and on every reload of the config (SIGHUP), at once like the config itself; between
those, `serve`'s file watch has it checked at most every 5 s, whether mail arrives or not, in
a worker thread that re-reads a changed file off the event loop (watch.ReloadPacer, as for local
lists and rule files).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailguard.watch import FileStamp, ReloadPacer, file_stamp

if TYPE_CHECKING:  # numpy and scikit-learn are imported once a model file exists
    from mailguard.bayes.model import BayesModel, Hasher

log = logging.getLogger("mailguard.bayes")


@dataclass
class ModelHolder:
    path: Path
    model: BayesModel | None = None
    hasher: Hasher | None = None
    refused: bool = False  # the file exists but failed to load (autolearn must not overwrite it)
    _signature: FileStamp | None = None
    pacer: ReloadPacer = field(default_factory=lambda: ReloadPacer(5.0), repr=False)

    @classmethod
    def load(cls, path: Path, previous: ModelHolder | None = None) -> ModelHolder:
        """Load now (start-up, SIGHUP); keeps `previous`'s model when the file fails or is unchanged."""
        holder = cls(path)
        if previous is not None and previous.path == path:
            holder.model, holder.hasher, holder._signature = previous.model, previous.hasher, previous._signature
        holder.refresh()
        holder.pacer.mark()
        return holder

    def refresh(self) -> None:
        """Re-read the file if it changed since it was last read (blocking)."""
        signature = file_stamp(self.path)
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
        self._signature = file_stamp(self.path)

    def poll(self) -> None:
        """From the event loop (serve's file watch): at most every 5 s, a changed file is re-read
        in a worker thread."""
        self.pacer.in_background(self.refresh)
