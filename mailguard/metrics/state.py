"""Gauges read at scrape time, not counted per message: the quarantine's size (the store) and
the Bayes model in use (the holder of the current runtime). Both are shared by every worker
process of a host, so the process that serves /metrics reads them for all."""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from mailguard.bayes.holder import ModelHolder
    from mailguard.store.quarantine import QuarantinePort

log = logging.getLogger("mailguard.metrics")


@dataclass(frozen=True)
class BayesState:
    loaded: bool  # a model is in use
    spam: int  # messages learnt as spam by the model in use
    ham: int
    age_seconds: float | None  # since the model file was last written; None without a file


@dataclass(frozen=True)
class StateReading:
    quarantine_messages: int | None  # None: the store could not be read this time
    quarantine_bytes: int | None
    bayes: BayesState | None  # None: [bayes] is off


def bayes_state(holder: ModelHolder | None, now: float) -> BayesState | None:
    if holder is None:
        return None
    model = holder.model
    try:
        age: float | None = max(0.0, now - os.stat(holder.path).st_mtime)
    except OSError:
        age = None
    return BayesState(model is not None, model.nspam if model else 0, model.nham if model else 0, age)


@dataclass
class StateSources:
    """Where the readings come from. `bayes` is asked at each scrape: a reload replaces the holder."""

    quarantine: QuarantinePort | None
    bayes: Callable[[], ModelHolder | None]

    async def read(self, timeout: float, clock: Callable[[], float] = time.time) -> StateReading:
        """A store that fails or does not answer within `timeout` seconds leaves its gauges out."""
        messages = size = None
        if self.quarantine is not None:
            try:
                async with asyncio.timeout(timeout):
                    messages, size = await self.quarantine.quarantine_size()
            except Exception as exc:
                log.warning("metrics: the quarantine's size could not be read: %s", repr(exc))
        return StateReading(messages, size, bayes_state(self.bayes(), clock()))


@dataclass(eq=False)  # registered by identity (hashable)
class StateCollector:
    """A prometheus-client collector over the last reading (set just before each scrape is rendered)."""

    reading: StateReading | None = None

    def collect(self) -> Iterator[Metric]:
        reading = self.reading
        if reading is None:
            return
        if reading.quarantine_messages is not None:
            yield GaugeMetricFamily("mailguard_quarantine_messages", "Messages held in quarantine",
                                    value=reading.quarantine_messages)
            yield GaugeMetricFamily("mailguard_quarantine_bytes", "Bytes of the messages held in quarantine",
                                    value=reading.quarantine_bytes or 0)
        bayes = reading.bayes
        if bayes is None:
            return
        yield GaugeMetricFamily("mailguard_bayes_model_loaded", "1 when a Bayes model is in use, else 0",
                                value=1 if bayes.loaded else 0)
        learnt = GaugeMetricFamily("mailguard_bayes_learnt_messages", "Messages the Bayes model in use has learnt",
                                   labels=["class"])
        learnt.add_metric(["spam"], bayes.spam)
        learnt.add_metric(["ham"], bayes.ham)
        yield learnt
        if bayes.age_seconds is not None:
            yield GaugeMetricFamily("mailguard_bayes_model_age_seconds", "Seconds since the model file was "
                                    "last written (mailguard train, autolearn)", value=bayes.age_seconds)
