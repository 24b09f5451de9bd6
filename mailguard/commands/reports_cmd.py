"""`mailguard reports list|show|stats` and `mailguard blocklist list|remove` (CONTRACTS.md).

Times print as ISO 8601 UTC (`2026-12-02T10:00:00Z`), as the ads commands do. A block entry is
named `kind:value` (`ip:192.0.2.7`, `domain:spam.example`); the value given is normalised as the
intake counts it (reports/sourcekeys.py), and a malformed one is a usage error (exit 2)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mailguard.commands.ads_cmd import iso
from mailguard.commands.store_cmds import parse_since, with_store

if TYPE_CHECKING:  # the parser is built for every command: the store loads only when used
    from mailguard.config import Config
    from mailguard.store.base import Store
    from mailguard.store.reports import ReportRecord
    from mailguard.store.sources import BlockEntry

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
SINCE_HELP = "ISO date/time (UTC) or a duration like 2h, 3d"


class UsageError(Exception):
    pass


def add_parsers(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("reports", help="users' spam and ham reports, and what was done with them")
    rsub = p.add_subparsers(dest="rcommand", metavar="ACTION", required=True)
    q = rsub.add_parser("list", help="newest first")
    common(q)
    q.add_argument("--since", metavar="WHEN", help=SINCE_HELP)
    q.add_argument("--json", action="store_true", help='JSON Lines: {"id", "received", "reporter", "kind", '
                   '"sender", "client_ip", "subject", "status", "message_id", "shape", "steps"}')
    q.add_argument("--limit", type=int, default=1000)
    q = rsub.add_parser("show", help="one report: its record and steps (stderr), the report as received (stdout)")
    common(q)
    q.add_argument("id", metavar="ID")
    q = rsub.add_parser("stats", help="reports by kind and status, learnt, top reporters and reported sources")
    common(q)
    q.add_argument("--since", metavar="WHEN", help=f"{SINCE_HELP} (default: every report kept)")
    q.add_argument("--top", type=int, default=10, metavar="N", help="how many reporters and sources (default 10)")
    q.add_argument("--json", action="store_true", help="one JSON object")

    p = sub.add_parser("blocklist", help="the local block list that users' reports feed")
    bsub = p.add_subparsers(dest="bcommand", metavar="ACTION", required=True)
    q = bsub.add_parser("list", help="entries not expired, newest first")
    common(q)
    q.add_argument("--json", action="store_true",
                   help='JSON Lines: {"entry", "kind", "value", "listed", "expires", "reporters"}')
    q = bsub.add_parser("remove", help="remove an entry and forget its counted reports; exit 1 when there was none")
    common(q)
    q.add_argument("entry", metavar="ENTRY", help="KIND:VALUE, KIND one of address, domain, ip, link (ip:192.0.2.7)")


# --- output ---------------------------------------------------------------------------------

def report_json(r: ReportRecord) -> dict:
    return {"id": r.id, "received": iso(r.received), "reporter": r.reporter, "kind": r.kind, "sender": r.sender,
            "client_ip": r.client_ip, "subject": r.subject, "status": r.status, "message_id": r.message_id,
            "shape": r.shape, "steps": list(r.steps)}


def report_line(r: ReportRecord) -> str:
    return (f"{r.id}  {iso(r.received)}  {r.kind:<4}  {r.status:<9} {r.reporter}  <{r.sender}>  "
            f"{r.client_ip or '-'}  {r.subject[:60]!r}")


def entry_json(e: BlockEntry) -> dict:
    return {"entry": e.name, "kind": e.kind, "value": e.value, "listed": iso(e.listed), "expires": iso(e.expires),
            "reporters": e.reporters}


def entry_line(e: BlockEntry) -> str:
    return f"{e.name}  listed {iso(e.listed)}  expires {iso(e.expires)}  {e.reporters} reporters"


# --- running --------------------------------------------------------------------------------

def run_reports(args: argparse.Namespace, cfg: Config) -> int:
    return _run(_reports_work, args, cfg)


def run_blocklist(args: argparse.Namespace, cfg: Config) -> int:
    return _run(_blocklist_work, args, cfg)


def _run(make: Callable[[argparse.Namespace], Callable[[Store], Awaitable[int]]], args: argparse.Namespace,
         cfg: Config) -> int:
    try:
        work = make(args)  # the arguments checked first: a usage error opens nothing
    except UsageError as exc:
        print(f"mailguard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return with_store(cfg, work)


def _since(text: str | None) -> float | None:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _reports_work(args: argparse.Namespace) -> Callable[[Store], Awaitable[int]]:
    if args.rcommand == "list":
        since = _since(args.since)

        async def listing(store: Store) -> int:
            for r in await store.reports(since, args.limit):
                print(json.dumps(report_json(r), ensure_ascii=False) if args.json else report_line(r))
            return EXIT_OK

        return listing

    if args.rcommand == "show":
        async def show(store: Store) -> int:
            r = await store.report(args.id)
            if r is None:
                print(f"mailguard: no report {args.id}", file=sys.stderr)
                return EXIT_PROBLEMS
            for name, value in report_json(r).items():
                if name != "steps":
                    print(f"{name}: {value if value is not None else '-'}", file=sys.stderr)
            print("steps:", file=sys.stderr)
            for step in r.steps:
                print(f"  {step}", file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.buffer.write(r.raw)
            sys.stdout.flush()
            return EXIT_OK

        return show

    since = _since(args.since)
    if args.top < 0:
        raise UsageError(f"--top {args.top}: expected 0 or more")

    async def stats(store: Store) -> int:
        from mailguard.store.sources import COUNT_KEEP_SECONDS

        found = await store.report_stats(since, args.top)
        sources = await store.reported_sources(since if since is not None else time.time() - COUNT_KEEP_SECONDS,
                                               args.top)
        data = {"since": iso(since) if since is not None else None, "reports": found.total,
                "by_kind": found.by_kind, "learnt": found.learnt, "by_status": found.by_status,
                "top_reporters": [{"reporter": r, "reports": n} for r, n in found.top_reporters],
                "top_sources": [{"source": s.name, "reporters": s.reporters, "last": iso(s.last)} for s in sources]}
        if args.json:
            print(json.dumps(data, ensure_ascii=False))
            return EXIT_OK
        print(f"reports: {found.total} (spam {found.by_kind['spam']}, ham {found.by_kind['ham']})"
              + (f" since {data['since']}" if since is not None else ""))
        print(f"learnt: spam {found.learnt['spam']}, ham {found.learnt['ham']}")
        print("by status: " + (", ".join(f"{k} {n}" for k, n in found.by_status.items()) or "-"))
        print("top reporters:")
        for r, n in found.top_reporters:
            print(f"  {n:>6}  {r}")
        print("top reported sources (distinct reporters):")
        for s in sources:
            print(f"  {s.reporters:>6}  {s.name}  last {iso(s.last)}")
        return EXIT_OK

    return stats


def _blocklist_work(args: argparse.Namespace) -> Callable[[Store], Awaitable[int]]:
    if args.bcommand == "list":
        async def listing(store: Store) -> int:
            for e in await store.blocklist(time.time()):
                print(json.dumps(entry_json(e), ensure_ascii=False) if args.json else entry_line(e))
            return EXIT_OK

        return listing

    from mailguard.reports.sourcekeys import parse_entry

    try:
        kind, value = parse_entry(args.entry)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    async def remove(store: Store) -> int:
        if await store.remove_block(kind, value):
            print(f"removed {kind}:{value} from the block list (its counted reports too)")
            return EXIT_OK
        print(f"mailguard: {kind}:{value} is not on the block list", file=sys.stderr)
        return EXIT_PROBLEMS

    return remove
