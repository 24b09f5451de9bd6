"""Autolearn (`[bayes] autolearn`, off by default): learn from verdicts far beyond the thresholds.

A verdict scoring at least `autolearn_spam` is learnt as spam, one at most `autolearn_ham` as
ham. The Bayes symbols' own score is left out (the model must not teach itself), and a verdict
with a forced action is never learnt (GTUBE, a DMARC reject: policy, not content). Messages are
queued and learnt in batches by a background task, through the same Learner as `mailguard
train`; before each batch the serving process takes the model's write lock (writelock.py) and re-reads
the file if it changed, so a `mailguard train` run in between or at the same time is kept. The queue is bounded (messages
beyond it are not learnt); what is queued at shutdown is learnt before the process ends.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailguard.bayes.holder import ModelHolder
from mailguard.bayes.writelock import WriteLock
from mailguard.bayes.spec import BayesSettings
from mailguard.scan.verdict import Verdict
from mailguard.store.learned import LearnedPort

log = logging.getLogger("mailguard.bayes")

MAX_QUEUE = 1000
FLUSH_SECONDS = 30.0


def autolearn_label(verdict: Verdict, settings: BayesSettings) -> str | None:
    if verdict.forced is not None:
        return None
    score = sum(s.score for s in verdict.symbols if not s.name.startswith("BAYES_"))
    if score >= settings.autolearn_spam:
        return "spam"
    if score <= settings.autolearn_ham:
        return "ham"
    return None


@dataclass
class ServiceLearner:
    """Learning inside the serving process (autolearn, and users' reports through the same
    calls): the file is re-read first if it changed, the holder's model is learnt, written and
    kept in use. One batch at a time (a lock), so two callers never interleave their writes."""

    holder: ModelHolder
    store: LearnedPort
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def learn(self, items: Sequence[tuple[bytes, str]]) -> int:
        """Learn (raw message, "spam" | "ham") pairs; the number newly learnt or moved."""
        return await self._apply(items, forget=False)

    async def forget(self, raws: Sequence[bytes]) -> int:
        """Unlearn messages with the label they were learnt with; the number unlearnt."""
        return await self._apply([(raw, "") for raw in raws], forget=True)

    async def _apply(self, items: Sequence[tuple[bytes, str]], forget: bool) -> int:
        if not items:
            return 0
        async with self._lock:
            # Across processes too: a `mailguard train` running now finishes first (writelock.py).
            lock = await asyncio.to_thread(WriteLock.acquire, self.holder.path)
            try:
                return await self._apply_locked(items, forget)
            finally:
                lock.release()

    async def _apply_locked(self, items: Sequence[tuple[bytes, str]], forget: bool) -> int:
        from mailguard.bayes.model import BayesModel
        from mailguard.bayes.train import Learner

        await asyncio.to_thread(self.holder.refresh)
        if self.holder.refused:
            log.error("Bayes learning skipped for %d messages: the model file %s is refused", len(items),
                      self.holder.path)
            return 0
        model = self.holder.model or BayesModel()
        learner = Learner(model, self.store, self.holder.path)
        done = 0
        if forget:
            done = (await learner.forget([raw for raw, _ in items])).forgotten
        for label in ("spam", "ham"):
            raws = [raw for raw, lb in items if lb == label]
            if raws:
                result = await learner.learn(raws, label)  # type: ignore[arg-type]
                done += result.learnt + result.moved
        await learner.save()
        self.holder.adopt(model)
        return done


@dataclass
class AutoLearner:
    settings: BayesSettings
    holder: ModelHolder
    store: LearnedPort
    flush_seconds: float = FLUSH_SECONDS
    queue: list[tuple[bytes, str]] = field(default_factory=list)
    _task: asyncio.Task | None = field(default=None, repr=False)
    # The process's one learner (shared with users' reports); made here when none is given.
    service: ServiceLearner | None = field(default=None, repr=False)

    def consider(self, raw: bytes, verdict: Verdict) -> str | None:
        """Queue the message when its verdict is far enough; the label queued, or None."""
        label = autolearn_label(verdict, self.settings)
        if label is None or len(self.queue) >= MAX_QUEUE:
            return None
        self.queue.append((raw, label))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())
        return label

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_seconds)
        try:
            await self.flush()
        except Exception:
            log.exception("autolearn failed; the queued messages were not learnt")

    async def flush(self) -> int:
        """Learn what is queued now; the number of messages newly learnt or moved."""
        batch, self.queue = self.queue, []
        if self.service is None:
            self.service = ServiceLearner(self.holder, self.store)
        done = await self.service.learn(batch)
        if batch and not self.holder.refused and self.holder.model is not None:
            log.info("autolearn: %d of %d messages learnt; model has %d spam, %d ham", done, len(batch),
                     self.holder.model.nspam, self.holder.model.nham)
        return done
