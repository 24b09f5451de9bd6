"""Learning and unlearning messages: the one API for `mailguard train`, autolearn and reports.

A message is named by its digest (digest.py); the store's `learned` table says which label each
digest was learnt with. So learning is idempotent (a message learnt twice counts once), a
message learnt with the other label is moved (unlearnt, then learnt), and forgetting unlearns
with the label it was learnt with.

Order of writes: the model file first (atomically), then the store. If the process dies in
between, the store does not know of the last batch: relearning it counts it again, once. The
other order could leave the store claiming messages the model never counted, which `--forget`
would then subtract from other messages' counts.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from mailguard.bayes import calibration, persist
from mailguard.bayes.calibration import Calibration
from mailguard.bayes.digest import message_digest
from mailguard.bayes.model import BayesModel, Hasher
from mailguard.bayes.tokenizer import tokens
from mailguard.scan.message import ParsedMessage
from mailguard.store.learned import LearnedPort

Label = Literal["spam", "ham"]
BATCH = 500


@dataclass
class LearnResult:
    learnt: int = 0  # newly counted
    moved: int = 0  # had been learnt with the other label
    already: int = 0  # learnt with this label before: nothing done
    forgotten: int = 0
    unknown: int = 0  # --forget of a message never learnt

    def add(self, other: LearnResult) -> None:
        for name in ("learnt", "moved", "already", "forgotten", "unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Learner:
    model: BayesModel
    store: LearnedPort
    path: Path | None  # where save() writes the model; None: never written (tests)
    hasher: Hasher = field(default=None)  # type: ignore[assignment]
    # `mailguard train` keeps the slots of the run's messages to calibrate the model on them
    # (calibration.py); autolearn and reports do not (the model keeps its calibration).
    keep_for_calibration: bool = False
    _pending: dict[str, str | None] = field(default_factory=dict, repr=False)
    _kept: dict[str, calibration.Learnt] = field(default_factory=dict, repr=False)  # by digest: the last label
    _recalibrated: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.hasher is None:
            self.hasher = Hasher(self.model.bits)

    @classmethod
    def open(cls, path: Path, store: LearnedPort) -> Learner:
        """The learner of the model in `path`, a new model when there is none (ModelFileError
        when the file exists but cannot be used)."""
        try:
            model = persist.load(path)
        except FileNotFoundError:
            model = BayesModel()
        return cls(model, store, path)

    def _prepare(self, raws: list[bytes]) -> list[tuple[str, np.ndarray, str]]:
        """(digest, slots, sender group) of each message: CPU work, run in a worker thread."""
        messages = [ParsedMessage.from_bytes(raw) for raw in raws]
        slots = self.hasher.slots_many([tokens(msg) for msg in messages])
        return [(message_digest(raw, msg), s, calibration.sender_group(msg))
                for raw, msg, s in zip(raws, messages, slots)]

    async def learn(self, raws: Iterable[bytes], label: Label,
                    progress: Callable[[int], None] | None = None) -> LearnResult:
        """Learn the messages as `label`; the model is changed in memory (save() writes it) and
        the store is told at save()."""
        result = LearnResult()
        for batch in _batches(raws):
            result.add(await self._learn_batch(batch, label))
            if progress:
                progress(len(batch))
        return result

    async def _learn_batch(self, batch: list[bytes], label: Label) -> LearnResult:
        result = LearnResult()
        prepared = await asyncio.to_thread(self._prepare, batch)
        known = await self._labels([d for d, _, _ in prepared])
        for digest, s, group in prepared:
            before = known.get(digest)
            if self.keep_for_calibration:
                self._kept[digest] = (s, label == "spam", group)
            if before == label:
                result.already += 1
                continue
            known[digest] = label  # a repeat inside the batch is "already"
            if before is not None:
                self.model.unlearn(s, before == "spam")
                result.moved += 1
            else:
                result.learnt += 1
            self.model.learn(s, label == "spam")
            self._pending[digest] = label
        return result

    async def forget(self, raws: Iterable[bytes], progress: Callable[[int], None] | None = None) -> LearnResult:
        result = LearnResult()
        for batch in _batches(raws):
            prepared = await asyncio.to_thread(self._prepare, batch)
            known = await self._labels([d for d, _, _ in prepared])
            for digest, s, _ in prepared:
                before = known.pop(digest, None)
                if before is None:
                    result.unknown += 1
                    continue
                self.model.unlearn(s, before == "spam")
                self._pending[digest] = None
                result.forgotten += 1
            if progress:
                progress(len(batch))
        return result

    async def _labels(self, digests: list[str]) -> dict[str, str]:
        """Labels as the store has them, overlaid with this learner's unsaved changes."""
        known = await self.store.learned_labels(digests)
        for d in digests:
            if d in self._pending:
                label = self._pending[d]
                if label is None:
                    known.pop(d, None)
                else:
                    known[d] = label
        return known

    async def calibrate(self) -> Calibration | None:
        """Fit the model's calibration on the messages of this run (keep_for_calibration), in a
        worker thread; None (the calibration kept) when the run is too small to fit one."""
        kept = list(self._kept.values())
        fitted = await asyncio.to_thread(calibration.fit, self.model, kept) if kept else None
        if fitted is not None:
            self.model.calibration = fitted
            self._recalibrated = True
        return fitted

    async def save(self) -> None:
        """Write the model (atomically), then record the learnt digests in the store."""
        if not self._pending and not self._recalibrated:
            return
        if self.path is not None:
            await asyncio.to_thread(persist.save, self.model, self.path)
        pending, self._pending, self._recalibrated = self._pending, {}, False
        if pending:
            await self.store.set_learned(pending)


def _batches(raws: Iterable[bytes]) -> Iterable[list[bytes]]:
    batch: list[bytes] = []
    for raw in raws:
        batch.append(raw)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
