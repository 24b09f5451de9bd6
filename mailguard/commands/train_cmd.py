"""`mailguard train --spam PATH... --ham PATH...` / `train --forget PATH...` (CONTRACTS.md).

Reads messages as `scan` does (files, folders, Maildirs, mbox), learns or unlearns them, then
writes the model file (atomically) and the digests in the store. A progress bar goes to stderr
when it is a terminal. Exit 1 when a source could not be read or the model file is unusable.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

from mailguard.config import Config
from mailguard.scan.sources import SourceError, iter_messages


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="teach the Bayes content model spam and ham, or make it forget messages")
    p.add_argument("--spam", metavar="PATH", nargs="+", default=[], help="messages to learn as spam")
    p.add_argument("--ham", metavar="PATH", nargs="+", default=[], help="messages to learn as ham")
    p.add_argument("--forget", metavar="PATH", nargs="+", default=[],
                   help="messages to unlearn (with the label they were learnt with)")
    return p


class Progress:
    """A one-line bar on a terminal; nothing otherwise."""

    def __init__(self, label: str, total: int, stream=None) -> None:
        stream = stream or sys.stderr
        self.label, self.total, self.done, self.stream = label, max(total, 1), 0, stream
        self.shown = stream.isatty()

    def __call__(self, n: int) -> None:
        self.done += n
        if self.shown:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            self.stream.write(f"\r{self.label:5} [{bar:<30}] {self.done} messages")
            self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def _count_files(paths: list[str]) -> int:
    total = 0
    for text in paths:
        path = Path(text)
        total += sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1
    return total


def run(args: argparse.Namespace, cfg: Config) -> int:
    if not (args.spam or args.ham or args.forget):
        print("mailguard train: give --spam, --ham or --forget with paths", file=sys.stderr)
        return 2
    if args.forget and (args.spam or args.ham):
        print("mailguard train: --forget goes alone (without --spam or --ham)", file=sys.stderr)
        return 2
    from mailguard.bayes import calibration
    from mailguard.bayes.persist import ModelFileError
    from mailguard.bayes.train import Learner
    from mailguard.bayes.writelock import WriteLock
    from mailguard.ownership import act_as_state_owner
    from mailguard.store import backends
    from mailguard.store.base import StoreError

    errors: list[SourceError] = []

    def messages(paths: list[str]) -> Iterator[bytes]:
        for item in iter_messages(paths):
            if isinstance(item, SourceError):
                print(f"{item.label}: {item.problem}", file=sys.stderr)
                errors.append(item)
            else:
                yield item.raw

    async def go() -> int:
        path = cfg.bayes_model_path
        try:
            # Held from reading the file to writing it: a serving process learning at the same
            # time (autolearn, reports) waits, and re-reads what we wrote (writelock.py).
            lock = WriteLock.acquire(path)
        except OSError as exc:
            print(f"{path}.lock: {exc.strerror or exc}", file=sys.stderr)
            return 1
        try:
            return await learn_locked(path)
        finally:
            lock.release()

    async def learn_locked(path: Path) -> int:
        try:
            store = await backends.open(cfg)
        except StoreError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        try:
            learner = Learner.open(path, store)
            learner.keep_for_calibration = not args.forget
            lines = []
            for label, paths in (("spam", args.spam), ("ham", args.ham), ("forget", args.forget)):
                if not paths:
                    continue
                bar = Progress(label, _count_files(paths))
                if label == "forget":
                    r = await learner.forget(messages(paths), bar)
                    lines.append(f"forget: {r.forgotten} unlearnt, {r.unknown} never learnt")
                else:
                    r = await learner.learn(messages(paths), label, bar)
                    lines.append(f"{label}: {r.learnt} learnt, {r.moved} moved from the other label, "
                                 f"{r.already} already learnt")
                bar.close()
            if not args.forget:
                fitted = await learner.calibrate()
                c = learner.model.calibration
                lines.append(f"calibration: z = {c.slope:.4f} * log-odds {c.intercept:+.4f}, fitted on "
                             f"{fitted.messages} messages in {fitted.folds} held-out folds" if fitted else
                             "calibration: kept (this run has fewer than "
                             f"{calibration.MIN_PER_CLASS} spam or ham to fit one)")
            await learner.save()
            for line in lines:
                print(line)
            m = learner.model
            print(f"model {path}: {m.nspam} spam, {m.nham} ham learnt")
        except ModelFileError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        except (StoreError, OSError) as exc:
            print(f"{getattr(exc, 'filename', None) or path}: {exc}", file=sys.stderr)
            return 1
        finally:
            await store.close()
        return 1 if errors else 0

    owner = act_as_state_owner(cfg.state_dir)
    if owner is not None:
        print(f"mailguard train: acting as {owner.name}, the owner of {cfg.state_dir} "
              "(the messages must be readable by it)", file=sys.stderr)
    return asyncio.run(go())
