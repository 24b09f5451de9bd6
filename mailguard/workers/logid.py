"""Every log line of a worker carries its id: `worker=N` in the text format, a `worker` field in
JSON (python-json-logger writes a record's extra attributes as fields)."""
from __future__ import annotations

import logging

from mailguard import trail


class WorkerId(logging.Filter):
    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


def tag_logs(worker: int, log_format: str) -> None:
    """Give the root logger's handlers (cli.setup_logging's) the worker's id."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(WorkerId(worker))
        handler.setFormatter(trail.formatter(log_format, with_worker=True))
