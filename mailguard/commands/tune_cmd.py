"""`mailguard tune --spam PATH... --ham PATH... [--out FILE]` (CONTRACTS.md): fitted symbol scores.

Scans the labelled mail offline as `scan` does (read-only: no history, no learning), adds the
Bayes evidence out of fold, fits the scores (tuning/fit.py), shows on stderr what would change,
and writes a `[scores]` rule file (stdout without --out) for an admin to review and drop into
the site rules dir. Exit 1 when a source could not be read or the fit failed.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from mailguard.config import Config


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("tune", help="fit symbol scores on labelled mail; writes a [scores] rule file")
    p.add_argument("--spam", metavar="PATH", nargs="+", required=True, help="spam: files, folders, Maildirs, mbox")
    p.add_argument("--ham", metavar="PATH", nargs="+", required=True, help="ham")
    p.add_argument("--out", metavar="FILE", help="write the [scores] file here (default: stdout)")
    p.add_argument("--fpr", metavar="RATE", type=float, default=0.001,
                   help="false-positive rate of the out-of-fold ham at the add_header threshold (default 0.001)")
    return p


def run(args: argparse.Namespace, cfg: Config) -> int:
    if not 0.0 <= args.fpr < 0.5:
        print("mailguard tune: --fpr is a rate between 0 and 0.5 (0.001 is 0.1 %)", file=sys.stderr)
        return 2
    from mailguard.bayes.model import DEFAULT_BITS
    from mailguard.checks.registry import CheckServices, build_pipeline
    from mailguard.commands.scan_cmd import scan_one
    from mailguard.commands.symbols_cmd import listing
    from mailguard.flow import ScanServices
    from mailguard.scan.facts import ClientFacts
    from mailguard.scan.sources import SourceError, iter_messages
    from mailguard.tuning import features, fit

    plain = dataclasses.replace(cfg, bayes=dataclasses.replace(cfg.bayes, enabled=False))
    services = CheckServices.for_config(plain)
    pipeline = build_pipeline(plain, offline=True, services=services)
    flow_services = ScanServices(plain, pipeline, hostname=cfg.hostname)
    errors = 0

    async def scan_all() -> tuple[list[features.Sample], list[bytes]]:
        nonlocal errors
        samples, raws = [], []
        for is_spam, paths in ((True, args.spam), (False, args.ham)):
            for n, item in enumerate(iter_messages(paths), start=1):
                if isinstance(item, SourceError):
                    print(f"{item.label}: {item.problem}", file=sys.stderr)
                    errors += 1
                    continue
                verdict = await scan_one(flow_services, ClientFacts(), "", [], item.raw, f"tune{n}")
                if verdict is None:
                    print(f"{item.label}: the scan failed (see the log)", file=sys.stderr)
                    errors += 1
                    continue
                samples.append(features.sample_of(item.label, is_spam, verdict))
                raws.append(item.raw)
        return samples, raws

    started = time.monotonic()
    try:
        samples, raws = asyncio.run(scan_all())
    finally:
        services.close()
    nspam = sum(s.is_spam for s in samples)
    nham = len(samples) - nspam
    if not nspam or not nham:
        print(f"mailguard tune: {nspam} spam and {nham} ham read; both are needed", file=sys.stderr)
        return 1
    calibrated = features.add_bayes(samples, raws, DEFAULT_BITS, cfg.bayes) if cfg.bayes.enabled else None
    del raws

    hits: dict[str, list[int]] = {}
    for s in samples:
        for name in s.strengths:
            hits.setdefault(name, [0, 0])[0 if s.is_spam else 1] += 1
    # The effective scores as `mailguard symbols` lists them for the real config (Bayes on).
    effective = {row.name: row.score for row in listing(cfg, services.rules.current)}
    current = {name: effective[name] if name in effective else pipeline.score_of(name) for name in hits}
    names = sorted(n for n, (a, b) in hits.items() if a + b >= fit.MIN_HITS)
    for s in samples:  # what is too rare to fit keeps its score
        s.fixed += sum(current[n] * v for n, v in s.strengths.items() if n not in names)
    x, y, fixed = features.matrix(samples, names)
    try:
        fitted = fit.fit(x, y, names, current, cfg.actions.add_header, fpr=args.fpr, fixed=fixed,
                         new_sender=np.array([s.new_sender for s in samples]),
                         bayes_caps={"BAYES_SPAM": (0.0, round(cfg.actions.quarantine - 0.01, 2))})
    except fit.FitError as exc:
        print(f"mailguard tune: {exc}", file=sys.stderr)
        return 1
    old_total = fixed + x @ np.array([current[n] for n in names])
    new_total = fixed + x @ np.array([fitted.scores[n] for n in names])

    required = cfg.actions.add_header
    before, after = fit.rates(old_total, y, required), fit.rates(new_total, y, required)

    err = sys.stderr
    print(f"tune: {nspam} spam, {nham} ham read in {time.monotonic() - started:.0f} s; "
          f"{len(names)} symbols fitted (seen on {fit.MIN_HITS} messages or more), "
          f"{len(hits) - len(names)} too rare, kept", file=err)
    if calibrated:
        print(f"tune: Bayes scored out of fold ({calibrated.folds} folds), z = {calibrated.slope:.4f} * log-odds "
              f"{calibrated.intercept:+.4f}", file=err)
    print(f"{'symbol':32} {'spam':>6} {'ham':>6} {'now':>8} {'fitted':>8}", file=err)
    for name in sorted(names, key=lambda n: -abs(fitted.scores[n] - current[n])):
        a, b = hits[name]
        print(f"{name:32} {a:6} {b:6} {current[name]:8.2f} {fitted.scores[name]:8.2f}", file=err)
    for title, r in (("now", before), ("fitted", after)):
        print(f"tune: at required={required:g}, {title}: false positives {r.false_positives}/{r.ham} "
              f"({100 * r.fpr:.2f} %), spam caught {100 * r.recall:.1f} % (out of fold)", file=err)
    new_ham = (y == 0) & np.array([s.new_sender for s in samples])
    if new_ham.sum():
        r = fit.rates(new_total[new_ham | (y == 1)], y[new_ham | (y == 1)], required)
        print(f"tune: of the ham from senders held out whole: false positives {r.false_positives}/{r.ham} "
              f"({100 * r.fpr:.2f} %)", file=err)

    text = render(fitted, names, hits, nspam, nham, required, args)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"tune: wrote {args.out}", file=err)
    else:
        sys.stdout.write(text)
    return 1 if errors else 0


def render(fitted, names: list[str], hits: dict[str, list[int]], nspam: int, nham: int, required: float,
           args: argparse.Namespace) -> str:
    lines = [
        f"# Scores fitted by `mailguard tune` on {time.strftime('%Y-%m-%d', time.gmtime())}: {nspam} spam "
        f"({' '.join(args.spam)}), {nham} ham ({' '.join(args.ham)}).",
        "# Method (README, \"Fitted scores\"): logistic regression of the label on the symbols (Bayes out of",
        f"# fold), a false positive weighing 10 misses, signs kept; scaled so that required = {required:g}",
        f"# keeps the false-positive rate of that ham at or below {100 * fitted.threshold_fpr:g} %.",
        "# Each line: fitted score, and on how many spam / ham messages the symbol was seen.",
        "",
        "[scores]",
    ]
    for name in names:
        a, b = hits[name]
        lines.append(f"{name} = {fitted.scores[name]:.2f}  # spam {a}, ham {b}")
    return "\n".join(lines) + "\n"
