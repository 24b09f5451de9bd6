"""The downstream connection: one per client session, driven in lock-step with the client.

Every answer the client gets to MAIL, RCPT and DATA is the downstream's answer (or a 4xx of ours
when the downstream cannot be reached in time). In front mode the real client is handed over with
XCLIENT, so Postfix applies its relay and access rules to it; if the downstream will not take
XCLIENT from us we refuse to relay at all (fail closed: otherwise Postfix would judge *us*).
In behind mode the client facts are passed on with XFORWARD, for Postfix's logging.
"""
from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import SMTPDataError, SMTPException, SMTPServerDisconnected, SMTPTimeoutError

from mailguard.config import HostPort, RelaySettings
from mailguard.scan.facts import ClientFacts
from mailguard.smtp import xtext
from mailguard.smtp.replies import Reply

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
    """The downstream could not be used; `reply` is what the client should hear."""

    reply: Reply


def _unavailable(why: str) -> DownstreamFailure:
    return DownstreamFailure(Reply(451, f"4.4.1 Downstream server unavailable ({why}), try again later"))


class Downstream:
    """An aiosmtplib connection with the XCLIENT/XFORWARD hand-over and timeouts of our config."""

    def __init__(self, target: HostPort, settings: RelaySettings, local_hostname: str) -> None:
        self.target = target
        self.settings = settings
        self.local_hostname = local_hostname
        self._smtp: aiosmtplib.SMTP | None = None
        self._xclient_sent: ClientFacts | None = None

    @property
    def connected(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def _command(self, *args: bytes, timeout: float | None = None) -> Reply:
        assert self._smtp is not None
        try:
            resp = await self._smtp.execute_command(*args, timeout=timeout or self.settings.command_timeout)
        except SMTPTimeoutError:
            self._drop()
            raise _unavailable(f"no answer to {args[0].decode()} within {timeout or self.settings.command_timeout:g}s")
        except (SMTPServerDisconnected, ConnectionError, OSError):
            self._drop()
            raise _unavailable(f"connection lost at {args[0].decode()}")
        reply = Reply(resp.code, resp.message)
        if reply.code == 421:  # the downstream is closing; never pass a 421 to our client
            self._drop()
            raise DownstreamFailure(Reply(451, f"4.3.0 Downstream server closing ({resp.message.splitlines()[0]})"))
        return reply

    async def _connect(self, client: ClientFacts, mode: str) -> None:
        smtp = aiosmtplib.SMTP(hostname=self.target.host, port=self.target.port,
                               local_hostname=self.local_hostname, start_tls=False,
                               timeout=self.settings.command_timeout)
        try:
            await smtp.connect(timeout=self.settings.connect_timeout)
            await smtp.ehlo(timeout=self.settings.command_timeout)
        except SMTPTimeoutError:
            smtp.close()
            raise _unavailable(f"{self.target} did not answer within {self.settings.connect_timeout:g}s")
        except (SMTPException, OSError) as exc:
            smtp.close()
            raise _unavailable(f"{self.target}: {getattr(exc, 'message', None) or exc}")
        self._smtp = smtp
        self._xclient_sent = None

    async def _hand_over_client(self, client: ClientFacts, mode: str) -> None:
        assert self._smtp is not None
        if mode == "front":
            if self._xclient_sent == client:
                return
            if not self._smtp.supports_extension("xclient"):
                log.error("downstream %s does not offer XCLIENT to us: refusing to relay "
                          "(set smtpd_authorized_xclient_hosts in Postfix's main.cf)", self.target)
                self.close()
                raise DownstreamFailure(Reply(451, "4.3.5 Relay misconfigured (downstream refuses XCLIENT), try again later"))
            attrs = [f"ADDR={xtext.encode(_postfix_addr(client.ip))}",
                     f"NAME={xtext.encode(_client_name(client))}",
                     f"PORT={client.port if client.port is not None else UNAVAILABLE}",
                     f"PROTO={client.protocol}",
                     f"HELO={xtext.encode(client.helo or UNAVAILABLE)}"]
            reply = await self._command(b"XCLIENT", *(_wire(a) for a in attrs))
            if not reply.ok:  # Postfix answers 220 (a new greeting); smtp-sink 250
                log.error("downstream %s refused XCLIENT: %s %s", self.target, reply.code, reply.text)
                self.close()
                raise DownstreamFailure(Reply(451, "4.3.5 Relay misconfigured (XCLIENT refused), try again later"))
            try:  # XCLIENT restarts the session: greet again, as the client did (Postfix keeps that HELO)
                await self._smtp.ehlo(hostname=client.helo or self.local_hostname,
                                      timeout=self.settings.command_timeout)
            except (SMTPException, OSError) as exc:
                self._drop()
                raise _unavailable(f"EHLO after XCLIENT: {exc}")
            self._xclient_sent = client
        elif self._smtp.supports_extension("xforward"):
            # Postfix resets XFORWARD attributes after each transaction; send before every MAIL.
            offered = set(self._smtp.esmtp_extensions.get("xforward", "").upper().split())
            values = {"NAME": _client_name(client), "ADDR": _postfix_addr(client.ip),
                      "PORT": str(client.port) if client.port is not None else UNAVAILABLE,
                      "PROTO": client.protocol, "HELO": client.helo or UNAVAILABLE, "SOURCE": "REMOTE"}
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
            return await self._start(client, mode, sender, params)
        except DownstreamFailure:
            if not reused or self.connected:
                raise
        # The idle connection we reused had been closed by the downstream: once more, afresh.
        return await self._start(client, mode, sender, params)

    async def _start(self, client: ClientFacts, mode: str, sender: str, params: list[str]) -> Reply:
        if not self.connected:
            await self._connect(client, mode)
        await self._hand_over_client(client, mode)
        return await self._command(b"MAIL", _wire(f"FROM:<{sender}>"), *(_wire(p) for p in params))

    async def rcpt(self, rcpt: str, params: list[str]) -> Reply:
        if not self.connected:
            raise _unavailable("connection lost before RCPT")
        return await self._command(b"RCPT", _wire(f"TO:<{rcpt}>"), *(_wire(p) for p in params))

    async def data(self, message: bytes) -> Reply:
        """Send DATA and the message; the downstream's final answer (a 4xx of ours on failure)."""
        if not self.connected:
            raise _unavailable("connection lost before DATA")
        assert self._smtp is not None
        try:
            resp = await self._smtp.data(message, timeout=self.settings.data_timeout)
        except SMTPDataError as exc:
            if exc.code == 421:
                self._drop()
                return Reply(451, "4.3.0 Downstream server closing, try again later")
            return Reply(exc.code, exc.message)
        except SMTPTimeoutError:
            self._drop()
            return Reply(451, f"4.4.2 Downstream server did not accept the message within "
                              f"{self.settings.data_timeout:g}s, try again later")
        except (SMTPServerDisconnected, ConnectionError, OSError):
            self._drop()
            return Reply(451, "4.4.2 Connection to downstream server lost, try again later")
        return Reply(resp.code, resp.message)

    async def rset(self) -> None:
        """End the downstream transaction; a downstream that will not RSET is dropped."""
        if not self.connected:
            return
        try:
            reply = await self._command(b"RSET")
            if not reply.ok:
                self._drop()
        except DownstreamFailure:
            pass

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None
        self._xclient_sent = None

    def close(self) -> None:
        self._drop()

    async def quit(self) -> None:
        if self.connected:
            assert self._smtp is not None
            try:
                await self._smtp.quit(timeout=min(5.0, self.settings.command_timeout))
            except (SMTPException, OSError):
                pass
        self._drop()
