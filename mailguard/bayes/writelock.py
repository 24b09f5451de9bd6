"""One writer of a model file at a time, across processes.

Learning is read-modify-write: read the file, add counts, write it back. `mailguard train` and
the serving process's autolearn (or users' reports) would otherwise lose each other's counts
when their windows overlap. Each holds an advisory lock (flock) on `<model>.lock` from reading
the file to writing it; readers that only score need no lock (the file is replaced atomically).
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class WriteLock:
    fd: int

    @classmethod
    def acquire(cls, model_path: Path) -> WriteLock:
        """Blocks until no other writer holds the lock (call it from a worker thread)."""
        model_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{model_path}.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1
