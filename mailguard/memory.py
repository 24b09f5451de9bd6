"""Memory that big messages held goes back to the system when they are done.

glibc serves a large allocation from the heap once it has seen one freed (its mmap threshold
grows up to 32 MB), and a heap seldom shrinks: after a burst of 10 MB messages the process
kept most of its peak. Fixing the threshold makes every block of 256 KiB or more its own
mapping, returned on free; a trim after the last message of a burst returns what the heap
can spare. Elsewhere than glibc both are no-ops.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger("mailguard.memory")

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def fix_mmap_threshold() -> bool:
    libc = _libc()
    return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim() -> None:
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
