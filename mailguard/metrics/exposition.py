"""What one scrape of /metrics answers: the recorder's metrics — or, with several worker
processes, the values all of them wrote to PROMETHEUS_MULTIPROC_DIR — and the gauges read now.

A supervisor running workers sets PROMETHEUS_MULTIPROC_DIR (an empty folder of its own) in
their environment before they start, passes the same folder here as `multiprocess_dir`, and
calls prometheus_client.multiprocess.mark_process_dead(pid) when a worker ends.
"""
from __future__ import annotations

import asyncio
import os
import socket

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from mailguard.config import HostPort
from mailguard.metrics.listener import MetricsListener
from mailguard.metrics.state import StateCollector, StateSources

STATE_TIMEOUT = 5.0  # seconds for the scrape-time readings (the store's count)
RENDER_TIMEOUT = 10.0  # seconds for rendering the text (reading the workers' files, in a thread)


class Exposition:
    def __init__(self, recorder_registry: CollectorRegistry, sources: StateSources,
                 multiprocess_dir: str | None = None) -> None:
        self.sources = sources
        self.state = StateCollector()
        self.registry = CollectorRegistry()  # what is served; only ever read
        if multiprocess_dir:
            MultiProcessCollector(self.registry, path=multiprocess_dir)
        else:
            self.registry.register(recorder_registry)
        self.registry.register(self.state)

    async def render(self) -> bytes:
        """The Prometheus text format. The store waits at most STATE_TIMEOUT (its gauges are left
        out past it); the text is built in a worker thread, off the event loop."""
        self.state.reading = await self.sources.read(STATE_TIMEOUT)
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(None, generate_latest, self.registry), RENDER_TIMEOUT)


async def serve_metrics(listen: HostPort, recorder_registry: CollectorRegistry, sources: StateSources,
                        sock: socket.socket | None = None) -> MetricsListener:
    """The /metrics listener, bound (OSError when it cannot be), or on `sock` (worker processes:
    any worker answers a scrape). With PROMETHEUS_MULTIPROC_DIR set, it serves what every process
    wrote there."""
    exposition = Exposition(recorder_registry, sources, os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None)
    return await MetricsListener.start(listen, exposition.render, sock)
