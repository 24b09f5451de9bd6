"""The supervisor of `serve --workers N`: binds the listening sockets, forks N workers that
accept on them, restarts a worker that dies (with backoff), passes SIGHUP and SIGTERM on to every
worker, and prints `listening on` once all of them are ready.

It runs no event loop: workers are forked from it, and a process forked from one that has an
asyncio loop inherits a loop in an undefined state. Signals reach it through a wake-up pipe
(signal.set_wakeup_fd) that a selector watches with the workers' readiness pipes.
"""
from __future__ import annotations

import logging
import os
import selectors
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailguard.clientcounts import SharedTable
from mailguard.config import Config, ConfigError
from mailguard.workers.context import READY, WorkerContext
from mailguard.workers.listeners import Listeners, bound

log = logging.getLogger("mailguard.workers")

STEADY_SECONDS = 10.0  # a worker that lived this long was not crashing at start: no backoff
MAX_BACKOFF = 30.0  # seconds between restarts of a worker that keeps dying
STOP_MARGIN = 10.0  # seconds past shutdown_grace before a worker still running is killed
SIGNALS = (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM, signal.SIGINT)


@dataclass
class Worker:
    id: int
    pid: int = 0
    ready_fd: int = -1  # the readiness pipe's read end
    ready: bool = False
    started: float = 0.0
    failures: int = 0  # deaths in a row soon after start
    restart_at: float | None = None
    reload_pending: bool = False  # a SIGHUP came before it was ready


@dataclass
class Supervisor:
    config: Config
    count: int
    run_worker: Callable[[WorkerContext], int]  # the worker's whole life; its exit status
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR of the workers, when metrics are on
    listeners: Listeners = field(default_factory=Listeners)
    workers: list[Worker] = field(default_factory=list)
    stopping_at: float | None = None
    announced: bool = False
    status: int = 0  # the exit status once all workers stopped: 1 when they could not start

    def run(self) -> int:
        try:
            self.listeners = Listeners.bind(self.config)
        except OSError as exc:
            log.error("cannot listen on %s: %s", exc.filename, exc.strerror or exc)
            return 1
        self.table = SharedTable.create(self.count)
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake_w)
        for sig in SIGNALS:
            signal.signal(sig, _note)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        self.workers = [Worker(i) for i in range(self.count)]
        log.info("starting %d worker processes", self.count)
        try:
            for worker in self.workers:
                self._start(worker)
            return self._loop()
        finally:
            self.listeners.close()

    def _loop(self) -> int:
        while True:
            now = time.monotonic()
            due = [w.restart_at for w in self.workers if w.restart_at is not None]
            timeout = max(0.0, min(due) - now) if due else None
            if self.stopping_at is not None:
                timeout = max(0.0, min(timeout if timeout is not None else 1.0, self.stopping_at - now))
            for key, _ in self.selector.select(timeout):
                if key.fd == self.wake_r:
                    self._signals()
                else:
                    self._readiness(key.data)
            self._reap()
            if self.stopping_at is not None:
                alive = [w for w in self.workers if w.pid]
                if not alive:
                    log.info("all workers stopped")
                    return self.status
                if time.monotonic() >= self.stopping_at:
                    for w in alive:
                        log.warning("worker %d (pid %d) still running past the grace period: killed", w.id, w.pid)
                        _kill(w.pid, signal.SIGKILL)
                    self.stopping_at = time.monotonic() + STOP_MARGIN
                continue
            for worker in self.workers:
                if worker.restart_at is not None and worker.restart_at <= time.monotonic():
                    self._start(worker)

    def _start(self, worker: Worker) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            os._exit(self._become_worker(worker, write_fd))
        os.close(write_fd)
        worker.pid, worker.ready_fd, worker.ready = pid, read_fd, False
        worker.started, worker.restart_at = time.monotonic(), None
        self.selector.register(read_fd, selectors.EVENT_READ, worker)
        log.info("worker %d started (pid %d)", worker.id, pid)

    def _become_worker(self, worker: Worker, ready_fd: int) -> int:
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until its loop handles it; one comes once it is ready
            self.selector.close()
            for fd in (self.wake_r, self.wake_w, *(w.ready_fd for w in self.workers if w.ready_fd >= 0)):
                os.close(fd)
            from mailguard.workers.logid import tag_logs

            tag_logs(worker.id, self.config.server.log_format)
            status = self.run_worker(WorkerContext(worker.id, self.listeners, self.table.for_worker(worker.id), ready_fd))
        except ConfigError as exc:  # the rules, a list, the TLS certificate refused: as a single process says it
            print(f"mailguard: {exc}", file=sys.stderr)
        except BaseException:
            log.exception("worker %d failed", worker.id)
        finally:
            logging.shutdown()
            sys.stderr.flush()
        return status

    def _signals(self) -> None:
        try:
            data = os.read(self.wake_r, 512)
        except BlockingIOError:
            return
        for sig in data:
            if sig == signal.SIGHUP and self.stopping_at is None:  # a stopping worker no longer handles it
                log.info("SIGHUP: passed on to the workers")
                for w in self.workers:
                    if w.pid and w.ready:
                        _kill(w.pid, signal.SIGHUP)
                    else:
                        w.reload_pending = True
            elif sig in (signal.SIGTERM, signal.SIGINT) and self.stopping_at is None:
                self._stop(f"signal {signal.Signals(sig).name}")

    def _stop(self, why: str) -> None:
        log.info("stopping (%s): the workers finish what is in flight", why)
        self.stopping_at = time.monotonic() + self.config.server.shutdown_grace + STOP_MARGIN
        self.listeners.close()  # the port closes with the workers' copies: no client waits on a backlog nobody takes
        for w in self.workers:
            w.restart_at = None
            if w.pid:
                _kill(w.pid, signal.SIGTERM)

    def _readiness(self, worker: Worker) -> None:
        try:
            data = os.read(worker.ready_fd, 16)
        except BlockingIOError:
            return
        if READY in data:
            worker.ready = True
            log.info("worker %d ready (pid %d)", worker.id, worker.pid)
            if worker.reload_pending:
                worker.reload_pending = False
                _kill(worker.pid, signal.SIGHUP)
            if not self.announced and all(w.ready for w in self.workers):
                self._announce()
        if not data:  # the worker closed its end: it announced itself, or it ended
            self._close_readiness(worker)

    def _close_readiness(self, worker: Worker) -> None:
        if worker.ready_fd >= 0:
            self.selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = -1

    def _announce(self) -> None:
        self.announced = True
        cfg, lst = self.config, self.listeners
        if lst.smtp is not None:
            print(f"listening on {bound(cfg.listen, lst.smtp)}", file=sys.stderr, flush=True)
        if lst.milter is not None and cfg.milter_listen is not None:
            print(f"milter listening on {bound(cfg.milter_listen, lst.milter)}", file=sys.stderr, flush=True)
        if lst.metrics is not None and cfg.metrics_listen is not None:
            print(f"metrics listening on {bound(cfg.metrics_listen, lst.metrics)}", file=sys.stderr, flush=True)
        log.info("all %d workers ready", self.count)

    def _reap(self) -> None:
        """Workers that ended: restarted (or, before all were first ready, the start fails)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = next((w for w in self.workers if w.pid == pid), None)
            if worker is None:
                continue
            self._ended(worker, status)
            if not self.announced and self.stopping_at is None:
                log.error("worker %d ended before it was ready: not starting", worker.id)
                self.status = 1
                self._stop("a worker could not start")

    def _ended(self, worker: Worker, status: int) -> None:
        how = (f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
               else f"exited with status {os.WEXITSTATUS(status)}")
        pid, worker.pid, worker.ready = worker.pid, 0, False
        self._close_readiness(worker)
        self.table.clear(worker.id)
        if self.metrics_dir:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, self.metrics_dir)
        if self.stopping_at is not None or not self.announced:
            log.info("worker %d (pid %d) %s", worker.id, pid, how)
            return
        lived = time.monotonic() - worker.started
        worker.failures = 0 if lived >= STEADY_SECONDS else worker.failures + 1
        delay = 0.0 if worker.failures <= 1 else min(MAX_BACKOFF, 0.5 * 2 ** (worker.failures - 2))
        worker.restart_at = time.monotonic() + delay
        log.error("worker %d (pid %d) %s; restarting it in %.1fs", worker.id, pid, how, delay)


def _note(signum, frame) -> None:
    """A Python-level handler, so that the signal is written to the wake-up pipe."""


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
