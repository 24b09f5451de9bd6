"""`mailguard serve`: the listening socket, the runtime a session works with, signals.

SIGTERM/SIGINT: stop accepting, let transactions in flight finish (bounded by
`shutdown_grace`), then close. SIGHUP: reload the config file (in a worker thread; sessions go on
meanwhile, and SIGHUPs during a reload give one more reload after it); a file that fails to load is
refused with a log line naming file, key and problem, and the running configuration stays.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import signal
import ssl
import sys
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from mailguard.config import Config, ConfigError, HostPort
from mailguard.dnsresolver import Resolver
from mailguard.scan import headers
from mailguard.scan.pipeline import Pipeline, ScanContext
from mailguard.scan.verdict import Verdict
from mailguard.store.base import Store
from mailguard.store.records import MessageRecord, QuarantineEntry
from mailguard.store.summary import message_record

log = logging.getLogger("mailguard.server")


@dataclass
class Runtime:
    """Everything a session needs, built from one config; replaced whole on reload."""

    config: Config
    pipeline: Pipeline
    store: Store
    hostname: str
    tls_context: ssl.SSLContext | None
    trusted_networks: tuple
    resolver: Resolver | None = None  # for the client's verified name (XCLIENT NAME=)
    autolearn: object | None = None  # mailguard.bayes.autolearn.AutoLearner when [bayes] autolearn is on

    @property
    def authserv_id(self) -> str:
        return self.config.authserv_id

    def received_header(self, facts) -> str:
        c = facts.client
        proto = c.protocol if c.protocol in ("SMTP", "ESMTP") else "ESMTP"
        if facts.smtputf8:
            proto = "UTF8" + ("SMTP" if proto == "ESMTP" else proto)
        if c.tls:
            proto += "S"
        return headers.received_header(helo=c.helo, client_name=c.name, client_ip=c.ip, by=self.hostname,
                                       protocol=proto, queue_id=facts.queue_id, rcpts=facts.rcpts,
                                       when=facts.received_at)

    def outgoing(self, raw: bytes, verdict: Verdict, extra_headers: list[str], policy: str = "") -> bytes:
        return headers.forwarded_message(raw, verdict, authserv_id=self.authserv_id,
                                         subject_tag=self.config.actions_for(policy).subject_tag,
                                         extra_headers=extra_headers)

    async def quarantine(self, ctx: ScanContext, verdict: Verdict) -> None:
        record = message_record(ctx, verdict, outcome="quarantined")
        await self.store.quarantine(QuarantineEntry(record, ctx.raw, verdict.headers))

    async def record(self, ctx: ScanContext, verdict: Verdict, outcome: str) -> None:
        """The history row; a failure here is logged, never turned into a second answer."""
        try:
            await self.store.record_history(message_record(ctx, verdict, outcome))
        except Exception:
            log.exception("%s could not write the history row", ctx.facts.queue_id)
        if self.autolearn is not None:
            self.autolearn.consider(ctx.raw, verdict)


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
class ServerState:
    """Shared by the sessions of one server: who is connected, and whether we are stopping."""

    max_connections: int
    sessions: set = field(default_factory=set)
    shutting_down: bool = False
    # End of DATA → downstream's final reply, seconds, for the messages relayed (bounded).
    relay_latency: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200_000))

    background: set = field(default_factory=set)

    def spawn(self, coro) -> None:
        """Run `coro` detached from any session (kept referenced until it ends)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def admit(self, session) -> bool:
        self.sessions.add(session)
        return len(self.sessions) <= self.max_connections

    def release(self, session) -> None:
        self.sessions.discard(session)


@dataclass
class RuntimeHolder:
    """The current runtime; a reload swaps it, sessions already connected keep theirs."""

    runtime: Runtime


async def serve(load_config: Callable[[], Config], build_runtime: Callable[[Config, Store], Runtime],
                store: Store) -> int:
    config = load_config()
    holder = RuntimeHolder(build_runtime(config, store))
    state = ServerState(max_connections=config.server.max_connections)
    loop = asyncio.get_running_loop()
    from mailguard.smtp.session import ProxySession

    listen: HostPort = config.listen
    try:
        server = await loop.create_server(lambda: ProxySession(holder.runtime, state),
                                          host=listen.host, port=listen.port, reuse_address=True)
    except OSError as exc:
        log.error("cannot listen on %s: %s", listen, exc.strerror or exc)
        return 1

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def build() -> tuple[Config, Runtime]:
        new_config = load_config()
        return new_config, build_runtime(new_config, store)

    async def reload() -> None:
        # Built in a worker thread: re-reading large lists, compiling the rules and loading the
        # Bayes model take seconds that no session should wait for. The swap is on the loop.
        try:
            new_config, new_runtime = await loop.run_in_executor(None, build)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            return
        except Exception:
            log.exception("reload failed, keeping the running configuration")
            return
        if new_config.server.listen != holder.runtime.config.server.listen:
            log.warning("reload: [server] listen changed; it takes effect at the next restart")
        holder.runtime = new_runtime
        state.max_connections = new_config.server.max_connections
        log.info("configuration reloaded from %s", new_config.source)

    reloads = _Reloads(reload)
    loop.add_signal_handler(signal.SIGHUP, reloads.request)
    # Announce only once every signal handler is in place: a SIGHUP right after must reload, not kill.
    sock = server.sockets[0].getsockname()
    bound = HostPort(listen.host, sock[1])
    print(f"listening on {bound}", file=sys.stderr, flush=True)
    log.info("mailguard relaying to %s in %s mode", config.downstream, config.relay.mode)
    purge = asyncio.create_task(_purge_history_daily(store))
    try:
        await stop.wait()
    finally:
        purge.cancel()
        await _shutdown(server, state, holder.runtime.config.server.shutdown_grace)
        await _learn_what_is_queued(holder.runtime)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    return 0


async def _learn_what_is_queued(runtime: Runtime, limit: float = 30.0) -> None:
    """Autolearn's queue, learnt before the process ends (bounded: a stop must not hang)."""
    if runtime.autolearn is None:
        return
    try:
        async with asyncio.timeout(limit):
            await runtime.autolearn.flush()
    except Exception:
        log.exception("autolearn at shutdown failed; the queued messages were not learnt")


async def _shutdown(server: asyncio.Server, state: ServerState, grace: float) -> None:
    log.info("stopping: no new connections; waiting up to %gs for %d session(s)", grace, len(state.sessions))
    server.close()
    state.shutting_down = True
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
    await asyncio.sleep(0)


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


async def _purge_history_daily(store: Store) -> None:
    while True:
        try:
            dropped = await store.purge_history()
            if dropped:
                log.info("history purge dropped %d rows", dropped)
        except Exception:
            log.exception("history purge failed")
        await asyncio.sleep(3600)
