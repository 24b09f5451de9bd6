"""`mailguard scan`: the pipeline over files, read-only, output like rspamc or JSON Lines."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from mailguard.checks.registry import CheckServices, build_pipeline, offline_skipped
from mailguard.config import Config
from mailguard.flow import MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts
from mailguard.scan.sources import SourceError, iter_messages
from mailguard.scan.verdict import Verdict


def verdict_json(label: str, verdict: Verdict) -> str:
    return json.dumps({
        "path": label,
        "action": verdict.action.value,
        "score": float(verdict.score),
        "required": float(verdict.required),
        "forced": verdict.forced.value if verdict.forced else None,
        "symbols": {s.name: {"score": float(s.score), "detail": s.detail,
                             **({"description": s.description} if s.description else {})}
                    for s in verdict.symbols},
    }, ensure_ascii=False)


def verdict_text(label: str, verdict: Verdict, seconds: float) -> str:
    lines = [f"Results for file: {label} ({seconds:.5f} seconds)",
             f"Action: {verdict.action.value}" + (" (forced)" if verdict.forced else ""),
             f"Spam: {'true' if verdict.is_spam else 'false'}",
             f"Score: {verdict.score:.2f} / {verdict.required:.2f}"]
    for s in sorted(verdict.symbols, key=lambda s: (-abs(s.score), s.name)):
        line = f"Symbol: {s.name} ({s.score:.2f})"
        if s.description:
            line += f" {s.description}"
        if s.detail:
            line += f" [{s.detail}]"
        lines.append(line)
    return "\n".join(lines) + "\n"


async def scan_one(services: ScanServices, client: ClientFacts, mail_from: str, rcpts: list[str], raw: bytes,
                   queue_id: str) -> Verdict | None:
    """The verdict the proxy would reach for this message, by the proxy's own flow (read-only):
    recipients the flow refuses at RCPT are left out, as the proxy leaves them; when it refuses
    them all, that refusal is the verdict."""
    flow = MessageFlow(services, client, record=False)
    await flow.mail(mail_from, smtputf8=not (mail_from + "".join(rcpts)).isascii())
    for rcpt in rcpts:
        if await flow.rcpt(rcpt) is None:
            flow.accepted(rcpt)
    assert flow.txn is not None
    refused = flow.txn.refused
    if rcpts and not flow.txn.rcpts and refused is not None:
        flow.close()
        return refused
    outcome = await flow.data(raw, queue_id)
    flow.close()
    return outcome.verdict


def run(args: argparse.Namespace, cfg: Config) -> int:
    services = CheckServices.for_config(cfg)  # offline too: the local lists live there
    pipeline = build_pipeline(cfg, offline=args.offline, services=services)
    skipped = offline_skipped(cfg, services) if args.offline else ()
    if skipped:
        print(f"offline: skipped {', '.join(skipped)}", file=sys.stderr)
    client = ClientFacts(ip=args.client_ip, helo=args.helo)

    flow_services = ScanServices(cfg, pipeline, hostname=cfg.hostname)

    async def scan_all() -> int:
        failures = 0
        for n, item in enumerate(iter_messages(args.paths), start=1):
            if isinstance(item, SourceError):
                print(f"{item.label}: {item.problem}", file=sys.stderr)
                failures += 1
                continue
            started = time.perf_counter()
            verdict = await scan_one(flow_services, client, args.mail_from, args.rcpt, item.raw, f"scan{n}")
            elapsed = time.perf_counter() - started
            if verdict is None:
                print(f"{item.label}: the scan failed (see the log)", file=sys.stderr)
                failures += 1
                continue
            out = verdict_json(item.label, verdict) if args.json else verdict_text(item.label, verdict, elapsed)
            print(out, flush=False)
        sys.stdout.flush()
        return 1 if failures else 0

    try:
        return asyncio.run(scan_all())
    finally:
        if services:
            services.close()
