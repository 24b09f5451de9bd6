"""`mailguard quarantine list|show|release|delete` and `mailguard history`."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable

from mailguard.config import Config
from mailguard.ownership import act_as_state_owner
from mailguard.store import backends
from mailguard.store.base import Store, StoreError
from mailguard.store.history import HistoryPort
from mailguard.store.quarantine import QuarantinePort
from mailguard.store.records import MessageRecord

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def record_json(record: MessageRecord) -> str:
    data = dataclasses.asdict(record)
    data["symbols"] = {s["name"]: {"score": s["score"], "detail": s["detail"]} for s in data["symbols"]}
    data["rcpts"] = list(record.rcpts)
    return json.dumps(data, ensure_ascii=False)


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def record_line(r: MessageRecord) -> str:
    return (f"{r.queue_id}  {_when(r.time)}  {r.action:<15} {r.score:>7.2f}  <{r.mail_from}> → "
            f"{','.join(r.rcpts)}  {r.subject[:60]!r}")


def parse_since(text: str | None) -> float | None:
    """ISO date/time (UTC when no zone is given) or a duration back from now: 30m, 2h, 7d."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if m:
        return time.time() - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected an ISO date/time or a duration like 2h, 3d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def with_store(cfg: Config, work: Callable[[Store], Awaitable[int]]) -> int:
    """work(store) on the configured store, closed after it; a store that fails is exit 1. Run
    by root, it acts as the owner of the state folder (ownership.py)."""
    act_as_state_owner(cfg.state_dir)

    async def run() -> int:
        store = await backends.open(cfg)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreError as exc:
        print(f"mailguard: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS


def run_quarantine(args: argparse.Namespace, cfg: Config) -> int:
    async def work(store: QuarantinePort) -> int:
        if args.qcommand == "list":
            for record in await store.quarantine_list(args.limit):
                print(record_json(record) if args.json else record_line(record))
            return EXIT_OK
        entry = await store.quarantine_get(args.id)
        if entry is None:
            print(f"mailguard: no quarantined message {args.id}", file=sys.stderr)
            return EXIT_PROBLEMS
        if args.qcommand == "show":
            print(record_line(entry.record), file=sys.stderr)
            for s in entry.record.symbols:
                print(f"  {s.name} ({s.score:.2f}) {s.detail}", file=sys.stderr)
            sys.stdout.buffer.write(entry.raw)
            sys.stdout.flush()
            return EXIT_OK
        if args.qcommand == "delete":
            await store.quarantine_delete(args.id)
            print(f"deleted {args.id}", file=sys.stderr)
            return EXIT_OK
        from mailguard.smtp.release import release

        result = await release(entry, cfg)
        for line in result.replies:
            print(line.replace("\r\n", " / "), file=sys.stderr)
        if not result.delivered:
            print(f"mailguard: {args.id} not released; it stays in quarantine", file=sys.stderr)
            return EXIT_PROBLEMS
        await store.quarantine_delete(args.id)
        print(f"released {args.id}", file=sys.stderr)
        return EXIT_OK

    return with_store(cfg, work)


def run_history(args: argparse.Namespace, cfg: Config) -> int:
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        print(f"mailguard: {exc}", file=sys.stderr)
        return EXIT_USAGE

    sender = args.sender.strip().removeprefix("<").removesuffix(">") if args.sender is not None else None

    async def work(store: HistoryPort) -> int:
        for record in await store.history(since, args.limit, sender=sender, queue_id=args.queue_id):
            print(record_json(record) if args.json else f"{record_line(record)}  {record.outcome}")
        return EXIT_OK

    return with_store(cfg, work)
