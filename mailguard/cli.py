"""The command line (CONTRACTS.md, "Command line"): exit 0 done, 1 problems or failure, 2 usage."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailguard import __version__
from mailguard import config as config_mod
from mailguard.config import Config, ConfigError, parse_host_port

if TYPE_CHECKING:
    from mailguard.workers.context import WorkerContext

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _host_port(text: str) -> str:
    try:
        parse_host_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of at least 1")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="config file (default: /etc/mailguard/mailguard.toml "
                        "if it exists, else built-in defaults)")
    parser.add_argument("--state-dir", metavar="DIR", help="folder of the store and the model (overrides [store] state_dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailguard", description="SMTP filtering proxy for Postfix")
    parser.add_argument("--version", action="version", version=f"mailguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("serve", help="run the SMTP proxy (and the milter, when configured)")
    _common(p)
    p.add_argument("--listen", metavar="HOST:PORT", type=_host_port, help="overrides [server] listen")
    p.add_argument("--downstream", metavar="HOST:PORT", type=_host_port, help="overrides [relay] downstream")
    p.add_argument("--milter", metavar="HOST:PORT", type=_host_port, help="overrides [milter] listen")
    p.add_argument("--workers", metavar="N", type=_positive, help="worker processes (overrides [server] workers; "
                   "default: one per core; 1: a single process)")

    p = sub.add_parser("scan", help="scan messages from files, folders, Maildirs and mbox files")
    _common(p)
    p.add_argument("--json", action="store_true", help="JSON Lines, one object per message")
    p.add_argument("--offline", action="store_true", help="skip every check that needs the network")
    p.add_argument("--client-ip", metavar="IP")
    p.add_argument("--helo", metavar="NAME")
    p.add_argument("--mail-from", metavar="ADDR", default="")
    p.add_argument("--rcpt", metavar="ADDR", action="append", default=[])
    p.add_argument("paths", metavar="PATH", nargs="+")

    from mailguard.commands import train_cmd, tune_cmd

    _common(train_cmd.add_parser(sub))
    _common(tune_cmd.add_parser(sub))

    p = sub.add_parser("quarantine", help="list, show, release or delete quarantined messages")
    qsub = p.add_subparsers(dest="qcommand", metavar="ACTION", required=True)
    q = qsub.add_parser("list", help="newest first")
    _common(q)
    q.add_argument("--json", action="store_true")
    q.add_argument("--limit", type=int, default=100)
    for name, text in (("show", "print the stored message"), ("release", "relay it to the downstream, then remove it"),
                       ("delete", "remove it")):
        q = qsub.add_parser(name, help=text)
        _common(q)
        q.add_argument("id", metavar="ID")

    p = sub.add_parser("history", help="messages seen and refusals, newest first")
    _common(p)
    p.add_argument("--since", metavar="WHEN", help="ISO date/time (UTC) or a duration like 2h, 3d")
    p.add_argument("--sender", metavar="ADDR", help="only this envelope sender (without case; '<>' for bounces)")
    p.add_argument("--id", metavar="ID", dest="queue_id", help="only this id (the one in our replies and the log)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=1000)

    from mailguard.commands import ads_cmd

    ads_cmd.add_parser(sub, _common)

    from mailguard.commands import reports_cmd

    reports_cmd.add_parsers(sub, _common)

    p = sub.add_parser("rules", help="check rule files")
    rsub = p.add_subparsers(dest="rcommand", metavar="ACTION", required=True)
    r = rsub.add_parser("check", help="load the shipped, the site's and the given rule folders; report every "
                        "problem as FILE[:LINE]: RULE: message; exit 0 when clean")
    _common(r)
    r.add_argument("dirs", metavar="DIR", nargs="*", help="more rule folders, loaded after the site's")

    p = sub.add_parser("config", help="check a config file")
    csub = p.add_subparsers(dest="ccommand", metavar="ACTION", required=True)
    c = csub.add_parser("check", help="load and validate the config; exit 0 when clean")
    _common(c)
    c.add_argument("--effective", action="store_true",
                   help="also print the effective config (the defaults merged with the file) as TOML on stdout")

    from mailguard.commands import symbols_cmd

    _common(symbols_cmd.add_parser(sub))
    return parser


def load_config(args: argparse.Namespace) -> Config:
    cfg = config_mod.load(getattr(args, "config", None))
    if getattr(args, "state_dir", None):
        # The folder of the store too: whatever [store] url says (CONTRACTS.md).
        cfg = cfg.replace("store", state_dir=str(Path(args.state_dir).resolve()), url="")
    if getattr(args, "listen", None):
        cfg = cfg.replace("server", listen=args.listen)
    if getattr(args, "downstream", None):
        cfg = cfg.replace("relay", downstream=args.downstream)
    if getattr(args, "milter", None):
        cfg = cfg.replace("milter", listen=args.milter)
    return cfg


def setup_logging(level: str, log_format: str = "text") -> None:
    from mailguard import trail

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(trail.formatter(log_format))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    workers = args.workers or cfg.server.workers or os.cpu_count() or 1
    metrics_dir = None
    if workers > 1 and cfg.metrics_listen is not None:
        # Before prometheus-client is first imported: it picks its multiprocess mode then.
        metrics_dir = tempfile.mkdtemp(prefix="mailguard-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from mailguard.checks.registry import CheckServices, build_pipeline
    from mailguard.smtp.server import Runtime, serve, tls_context_for
    from mailguard.store import backends
    from mailguard.store.base import StoreError

    setup_logging(cfg.server.log_level, cfg.server.log_format)
    tls_context_for(cfg)  # refuse to start on an unloadable certificate

    services: list[CheckServices] = []  # the current one; a reload reuses it when DNS settings stay

    def build_runtime(config: Config, store, metrics) -> Runtime:
        tls_context = tls_context_for(config)  # may refuse the config: before anything is replaced
        current = CheckServices.for_config(config, services[-1] if services else None, metrics)
        current.sources = store  # REPORTED_SOURCE asks the block list that reports feed
        services[:] = [current]
        autolearn = learner = None
        if current.bayes is not None:
            from mailguard.bayes.autolearn import AutoLearner, ServiceLearner

            learner = ServiceLearner(current.bayes, store)  # users' reports learn through it
            if config.bayes.autolearn:
                autolearn = AutoLearner(config.bayes, current.bayes, store, service=learner)
        from mailguard.reports.never_block import NeverBlock

        never_block = NeverBlock.load(config.reports.never_block, config.reports.local_domains)
        for line in (*current.lists.problem_lines(), *never_block.problem_lines()):
            logging.getLogger("mailguard.lists").warning("%s", line)  # the service's log; no other command's
        return Runtime(config=config, pipeline=build_pipeline(config, services=current), store=store,
                       hostname=config.hostname, tls_context=tls_context,
                       trusted_networks=config.trusted_networks, resolver=current.resolver, autolearn=autolearn,
                       learner=learner, never_block=never_block, bayes=current.bayes,
                       metrics=metrics, services=current)  # serve adds the outbox's wake-up

    async def run(worker: WorkerContext | None) -> int:
        try:
            store = await backends.open(cfg)
        except StoreError as exc:
            print(f"mailguard: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
        try:
            return await serve(lambda: load_config(args), build_runtime, store, worker)
        finally:
            await store.close()

    if workers == 1:
        return asyncio.run(run(None))
    from mailguard.workers.supervisor import Supervisor

    try:
        return Supervisor(cfg, workers, lambda worker: asyncio.run(run(worker)), metrics_dir).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def cmd_config(args: argparse.Namespace) -> int:
    from mailguard.commands import config_cmd

    return config_cmd.check(load_config(args), effective=args.effective)


def cmd_scan(args: argparse.Namespace) -> int:
    from mailguard.commands import scan_cmd

    return scan_cmd.run(args, load_config(args))


def cmd_rules(args: argparse.Namespace) -> int:
    from mailguard.commands import rules_cmd

    return rules_cmd.check(args, load_config(args))


def cmd_train(args: argparse.Namespace) -> int:
    from mailguard.commands import train_cmd

    return train_cmd.run(args, load_config(args))


def cmd_tune(args: argparse.Namespace) -> int:
    from mailguard.commands import tune_cmd

    return tune_cmd.run(args, load_config(args))


def cmd_symbols(args: argparse.Namespace) -> int:
    from mailguard.commands import symbols_cmd

    return symbols_cmd.run(args, load_config(args))


def cmd_quarantine(args: argparse.Namespace) -> int:
    from mailguard.commands import store_cmds

    return store_cmds.run_quarantine(args, load_config(args))


def cmd_history(args: argparse.Namespace) -> int:
    from mailguard.commands import store_cmds

    return store_cmds.run_history(args, load_config(args))


def cmd_ads(args: argparse.Namespace) -> int:
    from mailguard.commands import ads_cmd

    return ads_cmd.run(args, load_config(args))


def cmd_reports(args: argparse.Namespace) -> int:
    from mailguard.commands import reports_cmd

    return reports_cmd.run_reports(args, load_config(args))


def cmd_blocklist(args: argparse.Namespace) -> int:
    from mailguard.commands import reports_cmd

    return reports_cmd.run_blocklist(args, load_config(args))


COMMANDS = {"serve": cmd_serve, "config": cmd_config, "scan": cmd_scan, "quarantine": cmd_quarantine,
            "history": cmd_history, "ads": cmd_ads, "reports": cmd_reports,
            "blocklist": cmd_blocklist, "rules": cmd_rules, "train": cmd_train, "tune": cmd_tune, "symbols": cmd_symbols}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"mailguard: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_PROBLEMS
