"""Messages from paths: files, directories, Maildirs and mbox files (CONTRACTS.md, `scan`).

A file is an mbox when it holds two or more `From ` separator lines each followed by a header
line; a file with one leading `From ` line is one message and that line is dropped.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


@dataclass(frozen=True)
class SourceMessage:
    label: str  # "dir/file" or "box.mbox#3" (1-based)
    raw: bytes


@dataclass(frozen=True)
class SourceError:
    label: str
    problem: str


def _separators(data: bytes) -> list[int]:
    """Offsets of `From ` lines that are followed by a header line."""
    offsets = []
    for m in re.finditer(rb"(?m)^From [^\n]*\n", data):
        nxt = data[m.end():m.end() + 200]
        if _HEADER_LINE.match(nxt):
            offsets.append(m.start())
    return offsets


def split_file(label: str, data: bytes) -> list[SourceMessage]:
    seps = _separators(data) if data.startswith(b"From ") or b"\nFrom " in data else []
    if len(seps) >= 2:
        out = []
        bounds = seps + [len(data)]
        for i, (start, end) in enumerate(zip(bounds, bounds[1:]), start=1):
            chunk = data[start:end]
            chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
            out.append(SourceMessage(f"{label}#{i}", chunk))
        return out
    if data.startswith(b"From ") and seps[:1] == [0]:
        data = data.split(b"\n", 1)[1]
    return [SourceMessage(label, data)]


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def iter_messages(paths: list[str]) -> Iterator[SourceMessage | SourceError]:
    for text in paths:
        path = Path(text)
        if path.is_dir():
            if _is_maildir(path):
                files = sorted(p for sub in ("new", "cur") for p in (path / sub).iterdir() if p.is_file())
            else:
                files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            for f in files:
                yield from _read(f, str(f))
        else:
            yield from _read(path, text)


def _read(path: Path, label: str) -> Iterator[SourceMessage | SourceError]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield SourceError(label, f"cannot read: {exc.strerror or exc}")
        return
    yield from split_file(label, data)
