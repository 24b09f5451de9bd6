"""Autolearn (`[bayes] autolearn`, off by default): learn from verdicts far beyond the thresholds.

A verdict scoring at least `autolearn_spam` is learnt as spam, one at most `autolearn_ham` as
ham. The Bayes symbols' own score is left out (the model must not teach itself), and a verdict
with a forced action is never learnt (GTUBE, a DMARC reject: policy, not content). Messages are
queued and learnt in batches by a background task, through the same Learner as `mailguard
train`; the serving process then owns the model file: before each batch it re-reads the file
if it changed, so a `mailguard train` run in between is kept. The queue is bounded (messages
beyond it are not learnt), and what is queued at shutdown is not learnt.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from mailguard.bayes.holder import ModelHolder
from mailguard.config import BayesSettings
from mailguard.scan.verdict import Verdict
from mailguard.store.base import Store

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
class AutoLearner:
    settings: BayesSettings
    holder: ModelHolder
    store: Store
    flush_seconds: float = FLUSH_SECONDS
    queue: list[tuple[bytes, str]] = field(default_factory=list)
    _task: asyncio.Task | None = field(default=None, repr=False)

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
        from mailguard.bayes.model import BayesModel
        from mailguard.bayes.train import Learner

        batch, self.queue = self.queue, []
        if not batch:
            return 0
        await asyncio.to_thread(self.holder.refresh)
        if self.holder.refused:
            log.error("autolearn skipped %d messages: the model file %s is refused", len(batch), self.holder.path)
            return 0
        model = self.holder.model or BayesModel()
        learner = Learner(model, self.store, self.holder.path)
        done = 0
        for label in ("spam", "ham"):
            raws = [raw for raw, lb in batch if lb == label]
            if raws:
                result = await learner.learn(raws, label)  # type: ignore[arg-type]
                done += result.learnt + result.moved
        await learner.save()
        self.holder.adopt(model)
        log.info("autolearn: %d of %d messages learnt; model has %d spam, %d ham", done, len(batch),
                 model.nspam, model.nham)
        return done
