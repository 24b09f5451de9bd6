"""The downstream connection of a client session, driven in lock-step with the client.

Every answer the client gets to MAIL, RCPT and DATA is the downstream's answer (or a 4xx of ours
when the downstream cannot be reached in time). In front mode the real client is handed over with
XCLIENT, so Postfix applies its relay and access rules to it; if the downstream will not take
XCLIENT from us we refuse to relay at all (fail closed: otherwise Postfix would judge *us*).
In behind mode the client facts are passed on with XFORWARD, for Postfix's logging.

When the session ends cleanly its connection goes to the server's pool (pool.py) for the next
session, which starts with its own XCLIENT (front) or XFORWARD (behind); one found closed by the
downstream is replaced at MAIL, before anything of the message was sent.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from mailguard.config import HostPort, RelaySettings
from mailguard.scan.facts import ClientFacts
from mailguard.smtp import helo as helo_names
from mailguard.smtp import xtext
from mailguard.smtp.client import ClientError, ClientTimeout, SmtpClient, UnsafeCommand
from mailguard.smtp.pool import DownstreamPool, Parked
from mailguard.smtp.replies import DOWNSTREAM_UNAVAILABLE, Reply

log = logging.getLogger("mailguard.relay")

UNAVAILABLE = "[UNAVAILABLE]"
TEMPUNAVAIL = "[TEMPUNAVAIL]"


def _client_name(client) -> str:
    return client.name or (TEMPUNAVAIL if client.name_tempfail else UNAVAILABLE)


def _wire(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _postfix_addr(ip: str | None) -> str:
    if not ip:
        return UNAVAILABLE
    try:
        return f"IPV6:{ip}" if ipaddress.ip_address(ip).version == 6 else ip
    except ValueError:
        return UNAVAILABLE


@dataclass(frozen=True)
class DownstreamFailure(Exception):
    """The downstream could not be used; `reply` is what the client should hear, `why` what
    happened (logged, never told)."""

    reply: Reply
    why: str = ""


def _unavailable(why: str) -> DownstreamFailure:
    # Logged by whoever answers with it (a reused connection found closed is tried afresh first).
    return DownstreamFailure(DOWNSTREAM_UNAVAILABLE, why)


class Downstream:
    """A connection to the downstream with the XCLIENT/XFORWARD hand-over and our deadlines."""

    def __init__(self, target: HostPort, settings: RelaySettings, local_hostname: str,
                 data_timeout: float, pool: DownstreamPool | None = None) -> None:
        self.target = target
        self.settings = settings
        self.local_hostname = local_hostname
        # The wait for the answer to the final dot (see Config.relay_data_timeout).
        self.data_timeout = data_timeout
        self.pool = pool
        self._smtp: SmtpClient | None = None
        self._xclient_sent: ClientFacts | None = None
        self._pooled = False  # the connection came from the pool
        self._transactions = 0  # MAIL commands it has carried
        self._open = False  # a MAIL was accepted and its transaction not ended yet
        self._refused = False  # the downstream answered an error on it (Postfix counts them)

    def _failed_data(self, why: str) -> Reply:
        """The downstream failed after DATA: dropped; the client hears 451 and sends again."""
        self._drop()
        log.warning("downstream %s: %s", self.target, why)
        return DOWNSTREAM_UNAVAILABLE

    @property
    def connected(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def _command(self, *args: bytes, timeout: float | None = None) -> Reply:
        assert self._smtp is not None
        wait = timeout or self.settings.command_timeout
        try:
            reply = await self._smtp.command(*args, timeout=wait)
        except UnsafeCommand as exc:  # the session refuses these first: a last line of defence
            raise DownstreamFailure(Reply(501, f"5.5.2 Syntax error ({exc})"))
        except ClientTimeout:
            self._drop()
            raise _unavailable(f"no answer to {args[0].decode()} within {wait:g}s")
        except ClientError:
            self._drop()
            raise _unavailable(f"connection lost at {args[0].decode()}")
        if reply.code == 421:  # the downstream is closing; never pass a 421 to our client
            self._drop()
            raise _unavailable(f"closing at {args[0].decode()}: {reply.code} {reply.text.splitlines()[0] if reply.text else ''}")
        self._refused = self._refused or reply.code >= 400
        return reply

    async def _connect(self, pooled: bool) -> None:
        parked = self.pool.take(self.target) if pooled and self.pool is not None else None
        self._pooled = parked is not None
        self._xclient_sent = None  # a pooled connection carries another session's client
        self._open = self._refused = False
        if parked is not None:
            self._smtp, self._transactions = parked.smtp, parked.transactions
            return
        self._transactions = 0
        try:
            smtp, greeting = await SmtpClient.connect(self.target.host, self.target.port,
                                                      self.settings.connect_timeout)
        except ClientTimeout:
            raise _unavailable(f"no greeting within {self.settings.connect_timeout:g}s")
        except ClientError as exc:
            raise _unavailable(exc.why)
        if greeting.code != 220:
            smtp.close()
            raise _unavailable(f"greeted with {greeting.code}")
        self._smtp = smtp
        reply = await self._ehlo(self.local_hostname)
        if not reply.ok:
            self._drop()
            raise _unavailable(f"refused EHLO: {reply.code}")

    async def _ehlo(self, name: str) -> Reply:
        assert self._smtp is not None
        try:
            reply = await self._smtp.ehlo(name, timeout=self.settings.command_timeout)
        except ClientError as exc:
            self._drop()
            raise _unavailable(f"EHLO: {exc.why}")
        if reply.code == 421:
            self._drop()
            raise _unavailable("closing at EHLO")
        return reply

    async def _hand_over_client(self, client: ClientFacts, mode: str) -> None:
        assert self._smtp is not None
        if mode == "front":
            if self._xclient_sent == client:
                return
            if not self._smtp.supports("xclient"):
                log.error("downstream %s does not offer XCLIENT to us: refusing to relay "
                          "(set smtpd_authorized_xclient_hosts in Postfix's main.cf)", self.target)
                self.close()
                raise _unavailable("XCLIENT not offered")
            attrs = [f"ADDR={xtext.encode(_postfix_addr(client.ip))}",
                     f"NAME={xtext.encode(_client_name(client))}",
                     f"PORT={client.port if client.port is not None else UNAVAILABLE}",
                     f"PROTO={client.protocol}",
                     f"HELO={xtext.encode(helo_names.for_downstream(client.helo) or UNAVAILABLE)}"]
            reply = await self._command(b"XCLIENT", *(_wire(a) for a in attrs))
            if not reply.ok:  # Postfix answers 220 (a new greeting); smtp-sink 250
                log.error("downstream %s refused XCLIENT: %s %s", self.target, reply.code, reply.text)
                self.close()
                raise _unavailable(f"XCLIENT refused: {reply.code}")
            # XCLIENT restarts the session: greet again, as the client did (Postfix takes the
            # HELO name of this EHLO, so one too long for XCLIENT still reaches it).
            reply = await self._ehlo(client.helo or self.local_hostname)
            if not reply.ok:
                self._drop()
                raise _unavailable(f"EHLO after XCLIENT: {reply.code}")
            self._xclient_sent = client
        elif self._smtp.supports("xforward"):
            # Postfix resets XFORWARD attributes after each transaction; send before every MAIL.
            offered = set(self._smtp.extensions.get("xforward", "").upper().split())
            values = {"NAME": _client_name(client), "ADDR": _postfix_addr(client.ip),
                      "PORT": str(client.port) if client.port is not None else UNAVAILABLE,
                      "PROTO": client.protocol,
                      "HELO": helo_names.for_downstream(client.helo) or UNAVAILABLE, "SOURCE": "REMOTE"}
            attrs = [f"{k}={xtext.encode(v)}" for k, v in values.items() if k in offered]
            # Two commands keep each line well under the 512-byte command limit.
            for chunk in (attrs[:3], attrs[3:]):
                if chunk:
                    reply = await self._command(b"XFORWARD", *(_wire(a) for a in chunk))
                    if not reply.ok:
                        log.warning("downstream %s refused XFORWARD: %s %s", self.target, reply.code, reply.text)
                        break

    async def mail(self, client: ClientFacts, mode: str, sender: str, params: list[str]) -> Reply:
        """Start a transaction downstream (connecting first when needed) and return its answer."""
        reused = self.connected
        try:
            return await self._start(client, mode, sender, params, pooled=True)
        except DownstreamFailure:
            if self.connected or not (reused or self._pooled):
                raise
        # The idle connection we reused (ours, or the pool's) had been closed by the downstream
        # (its idle timeout, a restart): nothing of this transaction was sent; once more, afresh.
        if self.pool is not None:
            self.pool.discard(self.target)
        return await self._start(client, mode, sender, params, pooled=False)

    async def _start(self, client: ClientFacts, mode: str, sender: str, params: list[str], pooled: bool) -> Reply:
        if not self.connected:
            await self._connect(pooled)
        await self._hand_over_client(client, mode)
        self._transactions += 1
        reply = await self._command(b"MAIL", _wire(f"FROM:<{sender}>"), *(_wire(p) for p in params))
        self._open = reply.ok
        return reply

    async def rcpt(self, rcpt: str, params: list[str]) -> Reply:
        if not self.connected:
            raise _unavailable("connection lost before RCPT")
        return await self._command(b"RCPT", _wire(f"TO:<{rcpt}>"), *(_wire(p) for p in params))

    async def data(self, parts: Iterable[bytes]) -> Reply:
        """DATA and the message (`parts` in order: our headers, then the client's bytes); the
        downstream's final answer, or a 4xx of ours when it cannot be had."""
        if not self.connected:
            raise _unavailable("connection lost before DATA")
        assert self._smtp is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.data_timeout  # one wait from DATA to the final answer
        try:
            start = await self._smtp.command(b"DATA", timeout=self.data_timeout)
            if start.code != 354:
                if start.code == 421:
                    return self._failed_data("closing at DATA")
                self._refused = True
                return start
            reply = await self._smtp.send_message(parts, timeout=max(deadline - loop.time(), 0.001))
        except ClientTimeout:
            return self._failed_data(f"did not accept the message within {self.data_timeout:g}s")
        except ClientError as exc:
            return self._failed_data(f"connection lost during DATA: {exc.why}")
        if reply.code == 421:
            return self._failed_data("closing after the message")
        self._open = False
        self._refused = self._refused or reply.code >= 400
        return reply

    async def rset(self) -> None:
        """End the downstream transaction; a downstream that will not RSET is dropped."""
        if not self.connected:
            return
        try:
            reply = await self._command(b"RSET")
            if not reply.ok:
                self._drop()
            self._open = False
        except DownstreamFailure:
            pass

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None
        self._xclient_sent = None
        self._open = False

    def close(self) -> None:
        self._drop()

    async def release(self) -> None:
        """The client session is over: the connection goes to the pool for the next session when
        it ended cleanly (after RSET if a transaction was left open), else it is ended (QUIT)."""
        if self.pool is None or not self.connected or self._refused:
            return await self.quit()
        if self._open:
            await self.rset()
            if not self.connected or self._refused:
                return await self.quit()
        assert self._smtp is not None
        if self.pool.park(self.target, Parked(self._smtp, self._transactions),
                          self.settings.pool_size, self.settings.pool_idle_timeout):
            self._smtp = None
            self._xclient_sent = None
            return
        await self.quit()

    async def quit(self) -> None:
        if self.connected:
            assert self._smtp is not None
            try:
                await self._smtp.command(b"QUIT", timeout=min(5.0, self.settings.command_timeout))
            except ClientError:
                pass
        self._drop()
