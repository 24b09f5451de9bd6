"""What one worker process gets from its supervisor."""
from __future__ import annotations

import os
from dataclasses import dataclass

from mailguard.clientcounts import SharedCounts
from mailguard.workers.listeners import Listeners

READY = b"R"


@dataclass
class WorkerContext:
    id: int  # 0..N-1; a restarted worker keeps the id of the one it replaces
    listeners: Listeners
    counts: SharedCounts  # the connection counts of all workers
    ready_fd: int  # the pipe's write end: one READY byte once the worker serves

    @property
    def housekeeping(self) -> bool:
        """Whether this worker runs the hourly purges and the digests: one worker does, or each
        day's digests would go out once per worker."""
        return self.id == 0

    def announce_ready(self) -> None:
        os.write(self.ready_fd, READY)
        os.close(self.ready_fd)
        self.ready_fd = -1
