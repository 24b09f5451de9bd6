"""One client connection: aiosmtpd's SMTP protocol, extended to relay in lock-step.

aiosmtpd's handler hooks cannot express what a proxy needs (DSN parameters on MAIL/RCPT,
XFORWARD, long DATA lines, our EHLO keywords, enhanced codes on every reply, a 4xx on any
internal failure), so the commands that matter are overridden here. Parsing of addresses and
parameters reuses aiosmtpd's helpers.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

from aiosmtpd.smtp import SMTP

from mailguard import reasons
from mailguard.dnsresolver.reverse import ClientName, verified_client_name
from mailguard.flow import Kind, MessageFlow, Outcome, outgoing
from mailguard.inflight import OVER_BUDGET, MessageBuffer
from mailguard.ipaddrs import in_networks, plain_ip
from mailguard.scan.facts import ClientFacts
from mailguard.smtp import helo as helo_names
from mailguard.smtp import xtext
from mailguard.smtp.relay import Downstream, DownstreamFailure
from mailguard.smtp.replies import Reply, with_enhanced_code

if TYPE_CHECKING:
    from mailguard.smtp.server import Runtime, ServerState

log = logging.getLogger("mailguard.smtp")

COMMAND_LINE_LIMIT = 2048  # RFC 5321 §4.5.3.1.4 gives 512, extensions (DSN ORCPT/ENVID) add more
MAIL_PARAMS = frozenset({"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID"})
RCPT_PARAMS = frozenset({"NOTIFY", "ORCPT"})
XFORWARD_ATTRS = frozenset({"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"})
_CONTROL = frozenset(chr(c) for c in range(32)) | {"\x7f"}


class _NoHooks:
    """aiosmtpd wants a handler object; every hook is implemented on the session instead."""


class ProxySession(SMTP):
    def __init__(self, runtime: "Runtime", state: "ServerState") -> None:
        cfg = runtime.config
        self.runtime = runtime
        self.state = state
        # Read by aiosmtpd's __init__ to size the StreamReader: DATA lines may be long.
        self.line_length_limit = max(cfg.server.max_line_length + 2, COMMAND_LINE_LIMIT + 2)
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LINE_LIMIT)
        super().__init__(
            _NoHooks(),
            data_size_limit=cfg.server.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=runtime.hostname,
            ident="mailguard ESMTP",
            tls_context=runtime.tls_context,
            timeout=cfg.server.command_timeout,
        )
        self.command_size_limit = COMMAND_LINE_LIMIT
        self.downstream = Downstream(cfg.downstream, cfg.relay, runtime.hostname, cfg.relay_data_timeout,
                                     state.downstream_pool)
        self.flow = MessageFlow(runtime, ClientFacts(), spawn=state.spawn)
        self.xforward: dict[str, str] = {}
        self.busy = False  # a DATA is being scanned or relayed: shutdown waits for it
        self._refusal = ""  # the 421 this client gets instead of a greeting
        self._client_name: asyncio.Future[ClientName] | None = None
        self._junk = 0  # junk commands since the last message
        self._params: dict[str, list[str]] = {}  # ESMTP parameters of the transaction: "" MAIL's, then each RCPT's
        self._data: MessageBuffer | None = None  # the message being read or worked on, in state's budget
        self._faults_logged: set[str] = set()  # one log line per kind of fault per session

    @property
    def client(self) -> ClientFacts:
        return self.flow.client

    @client.setter
    def client(self, facts: ClientFacts) -> None:
        self.flow.client_changed(facts)

    @property
    def txn(self):  # the flow's transaction: what shutdown waits for
        return self.flow.txn

    # --- connection lifecycle -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if not first:  # STARTTLS re-entry: the client is the same, now over TLS
            self.client = replace(self.client, tls=True)
            return
        peer = transport.get_extra_info("peername") or (None, None)
        self.flow.client = ClientFacts(ip=plain_ip(peer[0]), port=peer[1] if len(peer) > 1 else None)
        self._refusal = self.state.admit(self, self.client.ip,
                                         limit_per_client=self.runtime.config.relay.mode == "front")
        if not self._refusal:
            self._look_up_client_name()

    def _look_up_client_name(self) -> None:
        if self.runtime.config.relay.mode == "front":
            self.flow.connected()  # connect-phase checks run while the client says EHLO
        if self.runtime.resolver and self.runtime.config.relay.mode == "front":
            # Looked up while the client says EHLO; needed at MAIL, for XCLIENT NAME=.
            self._client_name = asyncio.ensure_future(
                verified_client_name(self.runtime.resolver, self.client.ip))

    def connection_lost(self, error: Optional[Exception]) -> None:
        if self._client_name is not None:
            self._client_name.cancel()
        self.flow.close()
        self._release()
        # The client is gone: its downstream connection goes to the pool, or is ended politely,
        # without holding anything up.
        self.state.spawn(self.downstream.release())
        super().connection_lost(error)

    def eof_received(self) -> Optional[bool]:
        # The client has closed its side: it can send nothing more, and it may be reconnecting
        # already. Its slot is free now, not when the transport is finally torn down.
        self._release()
        return super().eof_received()

    def _release(self) -> None:
        """Give back the connection slot and the bytes in flight: as soon as we decide to close
        (a client told 221 reconnects at once, before connection_lost runs), and once more then."""
        self.state.release(self)
        self._give_back_data()

    def _close(self) -> None:
        self._release()
        if self.transport is not None:
            self.transport.close()

    def _timeout_cb(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 4.4.2 Error: timeout exceeded\r\n")
        super()._timeout_cb()

    async def _handle_client(self) -> None:
        if self._refusal:
            # Judged again a loop turn later: a client that hung up and reconnected at once
            # has its old session's end (seen in the same poll) counted first.
            await asyncio.sleep(0)
            self._refusal = self.state.refusal(self)
            if not self._refusal:
                self._look_up_client_name()
        if self._refusal:
            self.state.refused(self)
            await self.push(self._refusal)
            self._close()
            return
        try:
            await super()._handle_client()
        except ConnectionResetError:  # the client went away: a normal end, not a task error
            pass

    def _reset_timeout(self, duration: float | None = None) -> None:
        if self.busy:  # the client waits for our answer: its idle timer is not running
            return
        super()._reset_timeout(duration)

    def _suspend_timeout(self) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()

    async def _junk_command(self) -> bool:
        """Count a command that moves no mail (NOOP, RSET, VRFY, EXPN, HELP: Postfix counts NOOP,
        VRFY, ETRN and RSET; ETRN is unknown here); past the limit the session ends (True)."""
        self._junk += 1
        if self._junk <= self.runtime.config.server.junk_command_limit:
            return False
        self._log_once("junk", logging.INFO, "%s too many junk commands (NOOP/RSET/VRFY/HELP): closing",
                       self.client.ip)
        await self.push("421 4.7.0 Error: too many junk commands, closing connection")
        self._close()
        return True

    def _log_once(self, kind: str, level: int, message: str, *args) -> None:
        if kind not in self._faults_logged:
            self._faults_logged.add(kind)
            log.log(level, message, *args)

    async def smtp_NOOP(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push("250 2.0.0 Ok")

    async def smtp_VRFY(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push("502 5.5.1 Error: VRFY command is disabled")

    async def smtp_EXPN(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push("502 5.5.1 Error: EXPN command is disabled")

    async def smtp_HELP(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push("214 2.0.0 See RFC 5321")

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = with_enhanced_code(status)
        await super().push(status)

    async def _push_raw(self, lines: list[str]) -> None:
        """Lines written as given (greeting-like replies carry no enhanced codes)."""
        assert self._writer is not None
        self._writer.write("".join(line + "\r\n" for line in lines).encode("utf-8"))
        await self._writer.drain()

    async def handle_exception(self, error: Exception) -> str:
        # One traceback per session, and few across sessions: a fault a client can trigger at
        # will must not become a log flood.
        if "internal" not in self._faults_logged and self.state.internal_errors.allow():
            self._faults_logged.add("internal")
            log.exception("%s internal error in SMTP session", self.client.ip)
        await self._end_transaction()
        return "451 4.3.0 Internal error, try again later"

    async def _close_if_shutting_down(self) -> bool:
        if self.state.shutting_down and self.txn is None:
            await self.push("421 4.3.2 Service shutting down, try again later")
            self._close()
            return True
        return False

    # --- greeting -------------------------------------------------------------------------

    async def smtp_HELO(self, hostname: str) -> None:
        if not hostname:
            await self.push("501 5.5.4 Syntax: HELO hostname")
            return
        await self._end_transaction()
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = False
        self.session.host_name = hostname
        self._set_helo(hostname, "SMTP")
        await self.push(f"250 {self.hostname}")

    async def smtp_EHLO(self, hostname: str) -> None:
        if not hostname:
            await self.push("501 5.5.4 Syntax: EHLO hostname")
            return
        await self._end_transaction()
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = True
        self.session.host_name = hostname
        self._set_helo(hostname, "ESMTP")
        keywords = ["PIPELINING", f"SIZE {self.data_size_limit}"]
        if self.tls_context and not self._tls_protocol:
            keywords.append("STARTTLS")
        keywords += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"]
        if self._xforward_allowed():
            keywords.append("XFORWARD " + " ".join(sorted(XFORWARD_ATTRS)))
        lines = [self.hostname, *keywords]
        await self._push_raw([f"250{'-' if i < len(lines) - 1 else ' '}{line}" for i, line in enumerate(lines)])

    def _set_helo(self, hostname: str, protocol: str) -> None:
        assert self.session is not None
        self.session.host_name = hostname = helo_names.printable(hostname)
        if not self.xforward.get("HELO"):
            self.client = replace(self.client, helo=hostname)
        if not self.xforward.get("PROTO"):
            self.client = replace(self.client, protocol=protocol)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push("502 5.5.1 Error: authentication not supported here")

    # --- XFORWARD (behind mode, trusted peers only) -----------------------------------------

    def _xforward_allowed(self) -> bool:
        if self.runtime.config.relay.mode != "behind":
            return False
        peer_ip = self.session.peer[0] if self.session and self.session.peer else None
        return in_networks(plain_ip(peer_ip), self.runtime.trusted_networks)

    async def smtp_XFORWARD(self, arg: str) -> None:
        if not self._xforward_allowed():
            await self.push("550 5.7.0 Error: insufficient authorization")
            return
        if self.txn is not None:
            await self.push("503 5.5.1 Error: MAIL transaction in progress")
            return
        if not arg:
            await self.push("501 5.5.4 Syntax: XFORWARD attribute=value...")
            return
        updates: dict[str, str] = {}
        for item in arg.split():
            name, eq, value = item.partition("=")
            name = name.upper()
            if not eq or name not in XFORWARD_ATTRS:
                await self.push(f"501 5.5.4 Bad XFORWARD attribute name: {name}")
                return
            updates[name] = xtext.decode(value)
        self.xforward.update(updates)
        self._apply_xforward()
        await self.push("250 2.0.0 Ok")

    def _apply_xforward(self) -> None:
        def known(v: str | None) -> str | None:
            return None if v is None or v.upper() in ("[UNAVAILABLE]", "[TEMPUNAVAIL]") else v

        xf = self.xforward
        addr = known(xf.get("ADDR"))
        if addr and addr.upper().startswith("IPV6:"):
            addr = addr[5:]
        port = known(xf.get("PORT"))
        self.client = replace(
            self.client,
            ip=plain_ip(addr) if addr else self.client.ip,
            port=int(port) if port and port.isdigit() else self.client.port,
            name=_printable(known(xf.get("NAME"))) if "NAME" in xf else self.client.name,
            helo=_printable(known(xf.get("HELO"))) if "HELO" in xf else self.client.helo,
            protocol=known(xf.get("PROTO")) or self.client.protocol,
            forwarded=True,
        )

    # --- the transaction --------------------------------------------------------------------

    def _parse_path(self, arg: Optional[str], keyword: str) -> tuple[str | None, list[str] | None, str]:
        """(address, params, error reply) for `FROM:<addr> params` / `TO:<addr> params`."""
        syntax = f"501 5.5.4 Syntax: {'MAIL FROM' if keyword == 'FROM:' else 'RCPT TO'}: <address> [parameters]"
        if arg is None:
            return None, None, syntax
        if not _CONTROL.isdisjoint(arg):
            return None, None, "501 5.5.2 Syntax error: control character in command"
        rest = self._strip_command_keyword(keyword, arg)
        if rest is None:
            return None, None, syntax
        address, params_text = self._getaddr(rest)
        if address is None:
            return None, None, "553 5.1.3 Error: malformed address"
        if address == "<>":
            address = ""
        assert self.session is not None
        if params_text and not self.session.extended_smtp:
            return None, None, syntax
        params = (params_text or "").split()
        if self._getparams([p.upper() for p in params]) is None:
            return None, None, syntax
        return address, params, ""

    async def smtp_MAIL(self, arg: Optional[str]) -> None:
        if await self.check_helo_needed():
            return
        if await self._close_if_shutting_down():
            return
        if self.txn is not None:
            await self.push("503 5.5.1 Error: nested MAIL command")
            return
        address, params, error = self._parse_path(arg, "FROM:")
        if error:
            await self.push(error)
            return
        assert params is not None and address is not None
        named = {p.partition("=")[0].upper(): p.partition("=")[2] for p in params}
        unknown = set(named) - MAIL_PARAMS
        if unknown:
            await self.push(f"555 5.5.4 Unsupported MAIL parameter: {sorted(unknown)[0]}")
            return
        body = named.get("BODY", "7BIT").upper()
        if "BODY" in named and body not in ("7BIT", "8BITMIME"):
            await self.push("501 5.5.4 Error: BODY can only be one of 7BIT, 8BITMIME")
            return
        size = named.get("SIZE")
        if size is not None:
            if not size.isdigit():
                await self.push("501 5.5.4 Bad SIZE parameter")
                return
            limit = None
            if self.data_size_limit and int(size) > self.data_size_limit:
                limit = Reply(552, "5.3.4 Message size exceeds fixed limit")
            elif not self.state.inflight.has_room(int(size)):
                limit = OVER_BUDGET
            if limit is not None:
                self.flow.refused("mail", limit, reasons.LIMIT, sender=address)
                await self.push(str(limit))
                return
        if "RET" in named and named["RET"].upper() not in ("FULL", "HDRS"):
            await self.push("501 5.5.4 Bad RET parameter")
            return
        if not address.isascii() and "SMTPUTF8" not in named:
            await self.push("553 5.6.7 Must declare SMTPUTF8 to send non-ASCII address")
            return
        await self._learn_client_name()
        try:
            reply = await self.downstream.mail(self.client, self.runtime.config.relay.mode, address, params)
        except DownstreamFailure as failure:
            self._downstream_failed("MAIL", failure)
            self.runtime.metrics.downstream_error("mail")
            reply = failure.reply
        if reply.ok:
            await self.flow.mail(address, "SMTPUTF8" in named)
            self._params = {"": params}
        else:
            self.flow.refused("mail", reply, reasons.DOWNSTREAM, sender=address)
        await self.push(str(reply))

    def _downstream_failed(self, command: str, failure: DownstreamFailure) -> None:
        log.warning("%s %s: downstream %s unavailable: %s", self.client.ip, command, self.downstream.target,
                    failure.why or failure.reply.text)

    async def smtp_RCPT(self, arg: Optional[str]) -> None:
        if await self.check_helo_needed():
            return
        if self.txn is None:
            await self.push("503 5.5.1 Error: need MAIL command")
            return
        address, params, error = self._parse_path(arg, "TO:")
        if error:
            await self.push(error)
            return
        assert params is not None and address is not None
        if not address:
            await self.push("501 5.1.3 Error: empty recipient address")
            return
        unknown = {p.partition("=")[0].upper() for p in params} - RCPT_PARAMS
        if unknown:
            await self.push(f"555 5.5.4 Unsupported RCPT parameter: {sorted(unknown)[0]}")
            return
        if not address.isascii() and not self.txn.smtputf8:
            await self.push("553 5.6.7 Must declare SMTPUTF8 to send non-ASCII address")
            return
        refusal = await self.flow.rcpt(address)
        if refusal is not None:
            await self.push(str(refusal))
            return
        try:
            reply = await self.downstream.rcpt(address, params)
        except DownstreamFailure as failure:
            self._downstream_failed("RCPT", failure)
            self.runtime.metrics.downstream_error("rcpt")
            reply = failure.reply
        if reply.ok:
            self.flow.accepted(address)
            self._params[address] = params
        else:
            self.flow.refused("rcpt", reply, reasons.DOWNSTREAM, rcpt=address)
            self.runtime.metrics.rcpt_refused("downstream")
        await self.push(str(reply))

    async def smtp_RSET(self, arg: str) -> None:
        if await self._junk_command():
            return
        if arg:
            await self.push("501 5.5.4 Syntax: RSET")
            return
        await self._end_transaction()
        self._set_rset_state()
        await self.push("250 2.0.0 Ok")
        await self._close_if_shutting_down()

    async def smtp_QUIT(self, arg: str) -> None:
        if arg:
            await self.push("501 5.5.4 Syntax: QUIT")
            return
        await self.push("221 2.0.0 Bye")
        self.flow.reset()
        self._close()  # closing hands the downstream to connection_lost

    async def _end_transaction(self) -> None:
        """Forget the transaction here and downstream (RSET), and the per-transaction XFORWARD."""
        if self.txn is not None:
            self.flow.reset()
            await self.downstream.rset()
        self._forget_xforward()

    def _forget_xforward(self) -> None:
        """XFORWARD attributes last one transaction, as in Postfix; back to the socket's facts."""
        if not self.xforward:
            return
        self.xforward = {}
        peer = self.session.peer if self.session and self.session.peer else (None, None)
        self.client = replace(self.client, ip=plain_ip(peer[0]), port=peer[1], name=None,
                              forwarded=False, helo=self.session.host_name if self.session else None)

    async def _learn_client_name(self) -> None:
        """The verified client name, once (the resolver's own deadline bounds the wait)."""
        lookup, self._client_name = self._client_name, None
        if lookup is None:
            return
        try:
            found = await lookup
        except Exception:  # a bug in the lookup must not cost the client its session
            log.exception("%s client name lookup failed", self.client.ip)
            found = ClientName(None, temporary_failure=True)
        self.client = replace(self.client, name=found.name, name_tempfail=found.temporary_failure)

    # --- DATA -------------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        if self.txn is None:
            await self.push("503 5.5.1 Error: need MAIL command")
            return
        if not self.txn.rcpts:
            await self.push("554 5.5.1 Error: no valid recipients")
            return
        if self.state.inflight.full():
            self.flow.refused("data", OVER_BUDGET, reasons.LIMIT)
            await self.push(str(OVER_BUDGET))
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        raw, problem = await self._read_data()
        if problem is not None:
            self._give_back_data()
            self.flow.refused("data", problem, reasons.LIMIT)
            await self._end_transaction()
            await self.push(str(problem))
            return
        log.debug("%s DATA read: %d bytes (%d in flight)", self.client.ip, len(raw), self.state.inflight.held)
        self.busy = True
        self._suspend_timeout()  # RFC 5321 §4.5.3.2.6: the client waits for us now, not we for it
        try:
            outcome, reply = await self._deliver(raw)
        finally:
            self.busy = False
        del raw
        await self.push(str(reply))
        self._reset_timeout()
        if reply.ok:
            self._junk = 0
        self.flow.finished(outcome, reply)  # recorded after the answer: a slow store never delays it
        self._forget_xforward()
        self._give_back_data()
        await self._close_if_shutting_down()

    def _give_back_data(self) -> None:
        if self._data is not None:
            self._data.release()
            self._data = None

    async def _read_data(self) -> tuple[bytes, Reply | None]:
        """The message (dot-unstuffed) and None — or b'' and the error reply once the dot came.

        Only CR LF . CR LF ends the data. A line longer than the reader's limit arrives in
        pieces; a piece that does not start a line is never taken for the end (a "." left at
        the end of a long line's first piece must not end the message and let the rest be read
        as commands)."""
        self._give_back_data()
        self._data = data = MessageBuffer(self.state.inflight, self.data_size_limit or 0)
        max_line = self.runtime.config.server.max_line_length + 2
        data_timeout = self.runtime.config.server.data_timeout
        since_reset = 0
        at_line_start = True
        line_length = 0
        self._reset_timeout(data_timeout)
        while True:
            try:
                piece = await self._reader.readuntil(b"\r\n")
                line_ends = True
            except asyncio.LimitOverrunError as exc:
                piece = await self._reader.readexactly(exc.consumed)
                line_ends = False
            except asyncio.IncompleteReadError:
                raise ConnectionResetError("connection closed during DATA")
            if at_line_start and piece == b".\r\n":
                break
            line_length = (0 if at_line_start else line_length) + len(piece)
            if at_line_start and piece[:1] == b".":
                piece = piece[1:]
            at_line_start = line_ends
            since_reset += len(piece)
            if since_reset > 65536:
                self._reset_timeout(data_timeout)
                since_reset = 0
            data.add(piece, Reply(552, f"5.3.4 Error: message line longer than {max_line - 2} bytes")
                     if line_length > max_line else None)
        self._reset_timeout()
        if data.refusal is not None:
            return b"", data.refusal
        return data.contents(), None

    async def _deliver(self, raw: bytes) -> tuple[Outcome, Reply]:
        """The flow's outcome and the answer to give: only a real downstream 250 or a durable
        quarantine is a 2xx; anything unexpected is a 451 so the client retries."""
        txn = self.txn
        assert txn is not None
        started = time.perf_counter()
        outcome = await self.flow.data(raw)
        if outcome.kind is not Kind.DELIVER:
            await self.downstream.rset()
            reply = outcome.reply
            assert reply is not None
        else:
            try:
                reply = await self._narrow_to(txn.sender, outcome.rcpts)
                if reply is None:
                    reply = await self._relay(outgoing(raw, outcome, self.runtime.config.authserv_id))
            except Exception:
                log.exception("%s internal error while relaying", outcome.ctx.facts.queue_id if outcome.ctx else "")
                self.downstream.close()
                reply = Reply(451, "4.3.0 Internal error, try again later")
            self.state.relay_latency.append(time.perf_counter() - started)
        return outcome, reply  # the flow logs it once the client has the answer


    async def _relay(self, parts: tuple[bytes, memoryview]) -> Reply:
        """DATA downstream, timed. Every way it can fail (unreachable, no answer in time, lost,
        421) ends the downstream connection; a reply of the downstream's own keeps it."""
        sent = time.perf_counter()
        reply = await self.downstream.data(parts)
        self.runtime.metrics.downstream_latency(time.perf_counter() - sent)
        if not self.downstream.connected:
            self.runtime.metrics.downstream_error("data")
        return reply

    async def _narrow_to(self, sender: str, rcpts: tuple[str, ...] | None) -> Reply | None:
        """When the flow delivers to some of the recipients only (an ad held for the others), the
        downstream's transaction is begun again with those: None when it took them all, else the
        4xx the client gets (it sends again; nothing was delivered)."""
        if rcpts is None:
            return None
        await self.downstream.rset()
        try:
            reply = await self.downstream.mail(self.client, self.runtime.config.relay.mode, sender, self._params[""])
            for rcpt in rcpts if reply.ok else ():
                reply = await self.downstream.rcpt(rcpt, self._params.get(rcpt, []))
                if not reply.ok:
                    break
        except DownstreamFailure as failure:
            reply = failure.reply
        if reply.ok:
            return None
        log.warning("downstream refused the narrowed transaction: %s %s", reply.code, reply.text)
        await self.downstream.rset()
        return Reply(451, "4.3.0 Temporary failure while relaying the message, try again later")


def _printable(value: str | None) -> str | None:
    return helo_names.printable(value) if value else value


