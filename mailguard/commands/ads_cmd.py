"""`mailguard ads ledger` and `mailguard ads refusals list|add|remove` (CONTRACTS.md).

Addresses and domains given on the command line are normalised as the flow and the check do
(advertising/identity.py): `Bob@Example.VN` is the mailbox `bob@example.vn`, `news.shop.vn` the
advertiser `shop.vn`. One that does not normalise is a usage error (exit 2)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Awaitable, Callable

from typing import TYPE_CHECKING

from mailguard.commands.store_cmds import with_store
from mailguard.store.ledger import WINDOW_SECONDS, LedgerEntry
from mailguard.store.refusals import Refusal

if TYPE_CHECKING:  # the parser is built for every command: the store and the PSL load only for ads
    from mailguard.config import Config
    from mailguard.store.base import Store

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def add_parser(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("ads", help="the advertising ledger and recipients' refusals of advertisers")
    asub = p.add_subparsers(dest="acommand", metavar="ACTION", required=True)
    a = asub.add_parser("ledger", help=f"a recipient's ads of the last {WINDOW_SECONDS // 3600} hours, per advertiser")
    common(a)
    a.add_argument("--recipient", metavar="ADDR", required=True)
    a.add_argument("--json", action="store_true",
                   help='JSON Lines: {"advertiser", "recipient", "count", "confirmed", "pending", "first", "last", "times"}')
    r = asub.add_parser("refusals", help="list, add or remove refusals (they never expire)")
    rsub = r.add_subparsers(dest="rcommand", metavar="ACTION", required=True)
    q = rsub.add_parser("list", help="oldest first")
    common(q)
    q.add_argument("--recipient", metavar="ADDR", help="only this recipient's")
    q.add_argument("--json", action="store_true", help='JSON Lines: {"recipient", "advertiser", "at", "source"}')
    for name, text in (("add", "record that the recipient refused the advertiser (source: command)"),
                       ("remove", "forget a refusal; exit 1 when there was none")):
        q = rsub.add_parser(name, help=text)
        common(q)
        q.add_argument("--recipient", metavar="ADDR", required=True)
        q.add_argument("--advertiser", metavar="DOMAIN", required=True, help="a domain or an address; its "
                       "organizational domain is the advertiser")


def iso(t: float) -> str:
    """ISO 8601 in UTC, to the second: 2026-12-02T10:00:00Z."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recipient(text: str) -> str:
    from mailguard.advertising.identity import recipient_key

    key = recipient_key(text)
    if not key:
        raise UsageError(f"--recipient {text!r}: not a mail address (expected local@domain)")
    return key


def _advertiser(text: str) -> str:
    from mailguard.advertising.identity import advertiser_key

    key = advertiser_key(text)
    if not key:
        raise UsageError(f"--advertiser {text!r}: not a domain name (expected e.g. shop.vn)")
    return key


def per_advertiser(entries: list[LedgerEntry]) -> list[dict]:
    """One summary per advertiser, in the order of each one's first ad."""
    groups: dict[str, list[LedgerEntry]] = {}
    for e in entries:
        groups.setdefault(e.advertiser, []).append(e)
    out = []
    for advertiser, es in groups.items():
        times = [e.at for e in es]
        out.append({"advertiser": advertiser, "recipient": es[0].recipient, "count": len(es),
                    "confirmed": sum(e.state == "confirmed" for e in es),
                    "pending": sum(e.state == "pending" for e in es),
                    "first": iso(min(times)), "last": iso(max(times)), "times": [iso(t) for t in times]})
    return out


def refusal_json(r: Refusal) -> str:
    return json.dumps({"recipient": r.recipient, "advertiser": r.advertiser, "at": iso(r.at), "source": r.source},
                      ensure_ascii=False)


def refusal_line(r: Refusal) -> str:
    return f"{r.recipient}  {r.advertiser}  {iso(r.at)}  {r.source}"


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        work = _work(args)
    except UsageError as exc:
        print(f"mailguard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return with_store(cfg, work)


def _work(args: argparse.Namespace) -> Callable[[Store], Awaitable[int]]:
    """What to do with the store, the arguments checked first (usage errors open nothing)."""
    if args.acommand == "ledger":
        recipient = _recipient(args.recipient)

        async def ledger(store: Store) -> int:
            groups = per_advertiser(await store.ledger_entries(recipient, time.time()))
            for g in groups:
                if args.json:
                    print(json.dumps(g, ensure_ascii=False))
                else:
                    pending = f" ({g['pending']} pending)" if g["pending"] else ""
                    print(f"{g['advertiser']}  {g['count']}{pending}  first {g['first']}  last {g['last']}")
            if not groups and not args.json:
                print(f"no ads to {recipient} in the last {WINDOW_SECONDS // 3600} hours", file=sys.stderr)
            return EXIT_OK

        return ledger

    if args.rcommand == "list":
        only = _recipient(args.recipient) if args.recipient else None

        async def listing(store: Store) -> int:
            for r in await store.refusals(only):
                print(refusal_json(r) if args.json else refusal_line(r))
            return EXIT_OK

        return listing

    recipient, advertiser = _recipient(args.recipient), _advertiser(args.advertiser)
    if args.rcommand == "add":
        async def add(store: Store) -> int:
            if await store.add_refusal(Refusal(recipient, advertiser, time.time(), "command")):
                print(f"refused: {recipient} refuses ads from {advertiser} (source command)")
            else:
                (old,) = [r for r in await store.refusals(recipient) if r.advertiser == advertiser] or [None]
                since = f" since {iso(old.at)} (source {old.source})" if old is not None else ""
                print(f"already refused: {recipient} refuses ads from {advertiser}{since}")
            return EXIT_OK

        return add

    async def remove(store: Store) -> int:
        if await store.remove_refusal(recipient, advertiser):
            print(f"removed: {recipient} no longer refuses ads from {advertiser}")
            return EXIT_OK
        print(f"mailguard: {recipient} has no refusal of {advertiser}", file=sys.stderr)
        return EXIT_PROBLEMS

    return remove
