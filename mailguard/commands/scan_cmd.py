"""`mailguard scan`: the pipeline over files, read-only, output like rspamc or JSON Lines."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from mailguard.checks.registry import CheckServices, build_pipeline, offline_skipped
from mailguard.config import Config
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.sources import SourceError, iter_messages
from mailguard.scan.verdict import Verdict


def verdict_json(label: str, verdict: Verdict) -> str:
    return json.dumps({
        "path": label,
        "action": verdict.action.value,
        "score": verdict.score,
        "required": verdict.required,
        "forced": verdict.forced.value if verdict.forced else None,
        "symbols": {s.name: {"score": s.score, "detail": s.detail,
                             **({"description": s.description} if s.description else {})}
                    for s in verdict.symbols},
    }, ensure_ascii=False)


def verdict_text(label: str, verdict: Verdict, seconds: float) -> str:
    lines = [f"Results for file: {label} ({seconds:.5f} seconds)",
             f"Action: {verdict.action.value}" + (f" (forced)" if verdict.forced else ""),
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


def run(args: argparse.Namespace, cfg: Config) -> int:
    services = CheckServices.for_config(cfg)  # offline too: the local lists live there
    pipeline = build_pipeline(cfg, offline=args.offline, services=services)
    skipped = offline_skipped(cfg) if args.offline else ()
    if skipped:
        print(f"offline: skipped {', '.join(skipped)}", file=sys.stderr)
    client = ClientFacts(ip=args.client_ip, helo=args.helo)

    async def scan_all() -> int:
        failures = 0
        for n, item in enumerate(iter_messages(args.paths), start=1):
            if isinstance(item, SourceError):
                print(f"{item.label}: {item.problem}", file=sys.stderr)
                failures += 1
                continue
            facts = MessageFacts(client=client, mail_from=args.mail_from, rcpts=tuple(args.rcpt),
                                 queue_id=f"scan{n}", policy=cfg.policy_group(args.rcpt[0]) if args.rcpt else "")
            started = time.perf_counter()
            verdict = await pipeline.scan(facts, item.raw)
            elapsed = time.perf_counter() - started
            out = verdict_json(item.label, verdict) if args.json else verdict_text(item.label, verdict, elapsed)
            print(out, flush=False)
        sys.stdout.flush()
        return 1 if failures else 0

    try:
        return asyncio.run(scan_all())
    finally:
        if services:
            services.close()
