"""`mailguard serve`: the listening socket, the runtime a session works with, signals.

SIGTERM/SIGINT: stop accepting, let transactions in flight finish (bounded by
`shutdown_grace`), then close. SIGHUP: reload the config file (in a worker thread; sessions go on
meanwhile, and SIGHUPs during a reload give one more reload after it); a file that fails to load is
refused with a log line naming file, key and problem, and the running configuration stays.
"""
from __future__ import annotations

import asyncio
import dataclasses
import collections
import ipaddress
import logging
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

from mailguard import domains, memory
from mailguard.clientcounts import ClientCounts, LocalCounts
from mailguard.inflight import Budget
from mailguard.config import Config, ConfigError, HostPort, ServerSettings, parse_host_port
from mailguard.dnsresolver import Resolver
from mailguard.ipaddrs import in_networks
from mailguard.metrics import NO_METRICS, Recorder
from mailguard.metrics.recorder import ConnectionLimit
from mailguard.scan.pipeline import Pipeline
from mailguard.smtp.pool import DownstreamPool
from mailguard.store.base import Store
from mailguard.watch import FileWatch

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.workers.context import WorkerContext

log = logging.getLogger("mailguard.server")


@dataclass
class Runtime:
    """Everything a session needs, built from one config; replaced whole on reload. It is the
    flow's FlowServices too."""

    config: Config
    pipeline: Pipeline
    store: Store
    hostname: str
    tls_context: ssl.SSLContext | None
    trusted_networks: tuple
    resolver: Resolver | None = None  # for the client's verified name (XCLIENT NAME=)
    autolearn: object | None = None  # mailguard.bayes.autolearn.AutoLearner when [bayes] autolearn is on
    learner: object | None = None  # mailguard.bayes.autolearn.ServiceLearner: reports learn through it
    never_block: object | None = None  # mailguard.reports.never_block.NeverBlock
    wake_outbox: Callable[[], None] | None = None  # the outbox worker's wake-up (serve sets it)
    services: CheckServices | None = None  # the checks' lists, rules and model: their files are watched
    bayes: object | None = None  # mailguard.bayes.holder.ModelHolder in use; None when [bayes] is off
    metrics: Recorder = NO_METRICS  # the server's, kept across reloads


def tls_context_for(config: Config) -> ssl.SSLContext | None:
    if not config.server.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(config.server.tls_cert, config.server.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{config.source}: [server] tls_cert/tls_key: cannot load: {exc}") from None
    return ctx


@dataclass
class RateLimit:
    """At most `burst` events, then one per `every` seconds (a token bucket)."""

    every: float
    burst: int
    _tokens: float = -1.0
    _last: float = 0.0
    suppressed: int = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if self._tokens < 0:
            self._tokens = self.burst
        self._tokens = min(self.burst, self._tokens + (now - self._last) / self.every)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.suppressed += 1
        return False


@dataclass
class ServerState:
    """Shared by the sessions of one server: who is connected, the bytes of messages they hold,
    and whether we are stopping."""

    max_connections: int
    per_ip: int = 1 << 30
    per_net: int = 1 << 30
    exceptions: tuple = ()
    sessions: set = field(default_factory=set)
    shutting_down: bool = False
    # End of DATA → downstream's final reply, seconds, for the messages relayed (bounded).
    relay_latency: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200_000))
    internal_errors: RateLimit = field(default_factory=lambda: RateLimit(every=10.0, burst=5))
    trims: RateLimit = field(default_factory=lambda: RateLimit(every=1.0, burst=1))
    background: set = field(default_factory=set)
    # The outbox worker (mailguard/reports/outbox_worker.py) of this process: wake() it after
    # queueing mail of our own. None outside `serve`.
    outbox: object | None = None
    metrics: Recorder = NO_METRICS
    downstream_pool: DownstreamPool = field(default_factory=DownstreamPool)  # idle, for the next sessions
    # Open sessions per counter key (ALL_CLIENTS, address, network): this process's, or, with
    # worker processes, all workers' (clientcounts.py).
    clients: ClientCounts = field(default_factory=LocalCounts)
    _keys: dict = field(default_factory=dict)  # session → the counter keys it holds
    # The message bytes all sessions hold ([server] max_bytes_in_flight); after the last of a
    # burst is given back, memory is trimmed.
    inflight: Budget = field(init=False)

    def __post_init__(self) -> None:
        self.inflight = Budget(on_empty=self._trim)

    def _trim(self) -> None:
        if self.trims.allow():
            memory.trim()

    def configure(self, server: ServerSettings, exceptions: tuple) -> None:
        self.max_connections = server.max_connections
        self.per_ip = server.max_connections_per_ip
        self.per_net = server.max_connections_per_net
        self.exceptions = exceptions
        self.inflight.limit = server.max_bytes_in_flight

    def spawn(self, coro) -> None:
        """Run `coro` detached from any session (kept referenced until it ends)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def admit(self, session, ip: str | None, limit_per_client: bool) -> str:
        """Count a new session until release() (a refused one too, for the moment it takes to
        say 421); '' when it may go on, else the 421 it gets."""
        if session not in self.sessions:
            self.metrics.connection_opened("smtp")
        self.sessions.add(session)
        keys = _client_keys(ip) if limit_per_client and not in_networks(ip, self.exceptions) else ()
        self._keys[session] = keys
        for key in (ALL_CLIENTS, *keys):
            self.clients.add(key, 1)
        return self.refusal(session)

    def refusal(self, session) -> str:
        """'' when the session may go on, else the 421 it gets."""
        return CONNECTION_REFUSALS[limit] if (limit := self.limit_reached(session)) else ""

    def limit_reached(self, session) -> ConnectionLimit | None:
        """The connection limit the session is over, if any."""
        keys = self._keys.get(session, ())
        if self.clients.count(ALL_CLIENTS) > self.max_connections:
            return "max_connections"
        if keys and self.clients.count(keys[0]) > self.per_ip:
            return "per_ip"
        if keys and self.clients.count(keys[1]) > self.per_net:
            return "per_net"
        return None

    def refused(self, session) -> None:
        """The session was told its 421 (refusal()): counted by the limit it is over."""
        if (limit := self.limit_reached(session)) is not None:
            self.metrics.connection_refused(limit, "smtp")

    def release(self, session) -> None:
        if session in self.sessions:
            self.metrics.connection_closed("smtp")
        self.sessions.discard(session)
        if session in self._keys:
            for key in (ALL_CLIENTS, *self._keys.pop(session)):
                self.clients.add(key, -1)


CONNECTION_REFUSALS: dict[ConnectionLimit, str] = {
    "max_connections": "421 4.7.0 Too many connections, try again later",
    "per_ip": "421 4.7.0 Error: too many connections from your address, try again later",
    "per_net": "421 4.7.0 Error: too many connections from your network, try again later",
}


ALL_CLIENTS = "*"  # the counter key of every session ([server] max_connections)


def _client_keys(ip: str | None) -> tuple[str, ...]:
    """The address and its network (/24, /64) as counter keys; () for an unknown address."""
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return ()
    net = ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 64}", strict=False)
    return (str(addr), str(net))


@dataclass
class RuntimeHolder:
    """The current runtime; a reload swaps it, sessions already connected keep theirs."""

    runtime: Runtime


async def serve(load_config: Callable[[], Config], build_runtime: Callable[[Config, Store, Recorder], Runtime],
                store: Store, worker: WorkerContext | None = None) -> int:
    """The server of one process: alone (it binds and announces), or one of the supervisor's
    workers (`worker`: it accepts on the supervisor's sockets and tells it when it is ready)."""
    config = load_config()
    memory.fix_mmap_threshold()
    if not domains.is_fqdn(config.hostname):
        log.warning("our host name %r is not a fully-qualified domain name: the greeting, the Received header "
                    "and Authentication-Results carry it, and receivers judge it; set [server] hostname to "
                    "this host's name in DNS (e.g. mx.example.com)", config.hostname)

    prometheus = None
    if config.metrics_listen is not None:  # prometheus-client is imported only then
        from mailguard.metrics.prometheus import PrometheusRecorder

        prometheus = PrometheusRecorder()
    metrics: Recorder = prometheus or NO_METRICS
    from mailguard.reports.outbox_worker import OutboxWorker

    # Our own mail (acknowledgements, ARF reports): [reports] relay, else the downstream.
    relay = parse_host_port(config.reports.relay) if config.reports.relay else config.downstream
    outbox = OutboxWorker(store, relay, config.hostname)

    def runtime_for(cfg: Config) -> Runtime:
        return dataclasses.replace(build_runtime(cfg, store, metrics), wake_outbox=outbox.wake)

    holder = RuntimeHolder(runtime_for(config))
    state = ServerState(max_connections=config.server.max_connections, metrics=metrics)
    if worker is not None:
        state.clients = worker.counts
    state.configure(config.server, config.client_limit_exceptions)
    loop = asyncio.get_running_loop()
    from mailguard.smtp.session import ProxySession

    if not config.server.listen and config.milter_listen is None:
        log.error("nothing to listen on: [server] listen and [milter] listen are both empty")
        return 1
    server: asyncio.Server | None = None
    milter = scrapes = None
    try:
        if config.server.listen:  # empty: the milter alone
            listen: HostPort = config.listen
            if worker is not None and worker.listeners.smtp is not None:
                server = await loop.create_server(lambda: ProxySession(holder.runtime, state), sock=worker.listeners.smtp)
            else:
                server = await loop.create_server(lambda: ProxySession(holder.runtime, state),
                                                  host=listen.host, port=listen.port, reuse_address=True)
        if config.milter_listen is not None:
            from mailguard.milter.server import MilterServer

            listen = config.milter_listen
            milter = await MilterServer.start(listen, lambda: holder.runtime, state,
                                              sock=worker.listeners.milter if worker is not None else None)
        if prometheus is not None and config.metrics_listen is not None:
            from mailguard.metrics.exposition import serve_metrics
            from mailguard.metrics.state import StateSources

            listen = config.metrics_listen
            scrapes = await serve_metrics(listen, prometheus.registry, StateSources(store, lambda: holder.runtime.bayes),
                                          sock=worker.listeners.metrics if worker is not None else None)
    except OSError as exc:
        log.error("cannot listen on %s: %s", listen, exc.strerror or exc)
        for listener in (server, milter.server if milter else None):
            if listener is not None:
                listener.close()
        return 1

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def build() -> tuple[Config, Runtime]:
        new_config = load_config()
        return new_config, runtime_for(new_config)

    async def reload() -> None:
        # Built in a worker thread: re-reading large lists, compiling the rules and loading the
        # Bayes model take seconds that no session should wait for. The swap is on the loop.
        try:
            new_config, new_runtime = await loop.run_in_executor(None, build)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            metrics.reload(ok=False)
            return
        except Exception:
            log.exception("reload failed, keeping the running configuration")
            metrics.reload(ok=False)
            return
        for section in ("server", "milter", "metrics"):
            if getattr(new_config, section).listen != getattr(holder.runtime.config, section).listen:
                log.warning("reload: [%s] listen changed; it takes effect at the next restart", section)
        if new_config.server.workers != holder.runtime.config.server.workers:
            log.warning("reload: [server] workers changed; it takes effect at the next restart")
        holder.runtime = new_runtime
        state.configure(new_config.server, new_config.client_limit_exceptions)
        rules = new_runtime.services.rules if new_runtime.services is not None else None
        if rules is not None and rules.refused:
            log.warning("configuration of %s in force, but not its rule files: they were refused (the "
                        "problems are above) and the last good rules keep running", new_config.source)
            metrics.reload(ok=False)
        else:
            log.info("configuration reloaded from %s", new_config.source)
            metrics.reload(ok=True)

    reloads = _Reloads(reload)
    loop.add_signal_handler(signal.SIGHUP, reloads.request)
    # Announce only once every signal handler is in place: a SIGHUP right after must reload, not kill.
    # A worker tells its supervisor, which announces once for all of them.
    if server is not None:
        if worker is None:
            bound = HostPort(config.listen.host, server.sockets[0].getsockname()[1])
            print(f"listening on {bound}", file=sys.stderr, flush=True)
        log.info("mailguard relaying to %s in %s mode", config.downstream, config.relay.mode)
    if milter is not None and worker is None:
        print(f"milter listening on {milter.bound}", file=sys.stderr, flush=True)
    watch = asyncio.create_task(FileWatch(lambda: _rereads(holder.runtime)).run())
    if scrapes is not None and worker is None:
        print(f"metrics listening on {scrapes.bound}", file=sys.stderr, flush=True)
    if worker is not None:
        worker.announce_ready()
    housekeeping = worker is None or worker.housekeeping
    purge = asyncio.create_task(_purge_history_daily(store)) if housekeeping else None
    digests = (asyncio.create_task(_send_digests(store, lambda: holder.runtime.config, outbox.wake))
               if housekeeping else None)
    state.outbox = outbox
    outbox.start()
    try:
        await stop.wait()
    finally:
        watch.cancel()
        for task in (purge, digests):
            if task is not None:
                task.cancel()
        if scrapes is not None:
            scrapes.close()
        await _shutdown(server, state, holder.runtime.config.server.shutdown_grace, milter)
        await outbox.stop()  # after the sessions: what they queued last may still go out now
        await _learn_what_is_queued(holder.runtime)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    return 0


def _rereads(runtime: Runtime) -> tuple[Callable[[], None], ...]:
    return runtime.services.rereads() if runtime.services is not None else ()


async def _learn_what_is_queued(runtime: Runtime, limit: float = 30.0) -> None:
    """Autolearn's queue, learnt before the process ends (bounded: a stop must not hang)."""
    if runtime.autolearn is None:
        return
    try:
        async with asyncio.timeout(limit):
            await runtime.autolearn.flush()
    except Exception:
        log.exception("autolearn at shutdown failed; the queued messages were not learnt")


async def _shutdown(server: asyncio.Server | None, state: ServerState, grace: float, milter=None) -> None:
    log.info("stopping: no new connections; waiting up to %gs for %d session(s)", grace, len(state.sessions))
    if server is not None:
        server.close()
    state.shutting_down = True
    state.downstream_pool.close()
    milter_closed = asyncio.ensure_future(milter.shutdown(grace)) if milter is not None else None
    for session in list(state.sessions):
        if session.txn is None and not session.busy and session.transport is not None:
            session.transport.write(b"421 4.3.2 Service shutting down, try again later\r\n")
            session.transport.close()
    deadline = asyncio.get_running_loop().time() + grace
    while state.sessions and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    for session in list(state.sessions):
        log.warning("closing session from %s still open at the end of the grace period", session.client.ip)
        if session.transport is not None:
            session.transport.close()
    if milter_closed is not None:
        await milter_closed
    await asyncio.sleep(0)
    # What runs after an answer (history rows, autolearn's queueing, downstream QUITs) ends too.
    pending = set(state.background)
    if pending:
        _, late = await asyncio.wait(pending, timeout=max(deadline - asyncio.get_running_loop().time(), 5.0))
        if late:
            log.warning("%d background task(s) (history rows, downstream QUITs) still running at exit", len(late))


@dataclass
class _Reloads:
    """One reload at a time: a SIGHUP during a reload runs one more after it (the file may have
    changed again), however many arrived."""

    run: Callable[[], Awaitable[None]]
    task: asyncio.Task | None = None
    again: bool = False

    def request(self) -> None:
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while True:
            self.again = False
            await self.run()
            if not self.again:
                return


async def _send_digests(store: Store, current_config: Callable[[], Config], wake: Callable[[], None]) -> None:
    """Hourly: queue the daily ARF digest when one is due (reports/digest.py), and the day's
    quarantine digests once the day is over (quarantine/digest.py; a pass that failed is tried
    again at the next hour, and one that succeeded is not run again for that day)."""
    from mailguard.quarantine import digest as held
    from mailguard.reports.digest import send_digest

    held_done: float | None = None  # the day whose quarantine digests are all queued
    while True:
        try:
            if await send_digest(store, current_config()):
                wake()
        except Exception:
            log.exception("the ARF digest could not be queued")
        now = time.time()
        day = held.day_to_send(now)
        if day != held_done and current_config().quarantine.digest:
            try:
                if await held.send_digests(store, current_config(), day, now):
                    wake()
                held_done = day
            except Exception:
                log.exception("the quarantine digests could not be queued")
        await asyncio.sleep(3600)


async def _purge_history_daily(store: Store) -> None:
    """Hourly: history days older than history_days, ledger slots that count no more, reports
    older than history_days, counted reports older than sources.COUNT_KEEP_SECONDS and expired
    block entries, sent and failed outbox items older than history_days, quarantined messages
    older than quarantine_days. Each purge on its own:
    one failing leaves the others to run."""
    purges = (("history", "purge_history", "history purge dropped %d rows"),
              ("advertising ledger", "purge_ledger", "advertising ledger purge dropped %d slots"),
              ("reports", "purge_reports", "reports purge dropped %d reports"),
              ("repeat sources", "purge_sources", "repeat sources purge dropped %d counted reports and entries"),
              ("outbox", "purge_outbox", "outbox purge dropped %d sent or failed items"),
              ("quarantine", "purge_quarantine", "quarantine purge dropped %d entries older than quarantine_days"))
    while True:
        for what, method, done in purges:
            try:
                dropped = await getattr(store, method)()
                if dropped:
                    log.info(done, dropped)
            except Exception:
                log.exception("%s purge failed", what)
        await asyncio.sleep(3600)
