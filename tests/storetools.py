"""Helpers for the store tests."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def statements(store) -> Iterator[list[str]]:
    """Every SQL statement a SqliteStore sends while the block runs (to see what a write commits
    with: durable writes go between PRAGMA synchronous = FULL and = NORMAL)."""
    seen: list[str] = []
    db = store._db
    real = db.execute

    async def spy(sql, *args, **kw):
        seen.append(sql)
        return await real(sql, *args, **kw)

    db.execute = spy
    try:
        yield seen
    finally:
        db.execute = real


def race_processes(script: str, argv: list[list[str]], rounds: int) -> list[list]:
    """Run `script` (python -c) once per argv; it prints "ready", then answers each line "r" of its
    stdin with one JSON line. Every round, all workers get their go before any answer is read (a
    barrier through the pipes, no sleeps). The answers, one list per round, in worker order."""
    workers = [subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for args in argv]
    results = []
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready"
        for r in range(rounds):
            for w in workers:
                w.stdin.write(f"{r}\n")
                w.stdin.flush()
            results.append([json.loads(w.stdout.readline()) for w in workers])
        for w in workers:
            w.stdin.close()
            assert w.wait(timeout=30) == 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    return results
