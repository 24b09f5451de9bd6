"""One milter connection (one Postfix smtpd session): milter events in, the flow's decisions out.

Postfix is the SMTP server here: it writes the Received header, holds the queue, and answers
the client itself. We tell it, per recipient, CONTINUE or our reply; at the end of the message,
header edits and ACCEPT, DISCARD (quarantined: the flow stored it already) or our reply.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mailguard import reasons
from mailguard.flow import Kind, MessageFlow, Outcome
from mailguard.inflight import MessageBuffer
from mailguard.ipaddrs import plain_ip
from mailguard.milter import protocol as p
from mailguard.milter.edits import header_edits
from mailguard.scan.facts import ClientFacts
from mailguard.smtp import helo as helo_names
from mailguard.smtp.replies import Reply

if TYPE_CHECKING:
    from mailguard.smtp.server import Runtime, ServerState

log = logging.getLogger("mailguard.milter")

PROGRESS_EVERY = 10.0  # seconds: Postfix's milter_content_timeout restarts at each SMFIR_PROGRESS
INTERNAL_ERROR = Reply(451, "4.3.0 Internal error, try again later")
TOLD_ACCEPTED = Reply(250, "2.0.0 accepted by milter")
# Events that have no answer: Postfix waits for none.
_SILENT = (p.Macro, p.Abort, p.Quit, p.QuitNewConnection)
# Events whose answer the negotiation can waive.
_NO_REPLY_STEP = {p.Connect: p.Step.NR_CONN, p.Helo: p.Step.NR_HELO, p.Mail: p.Step.NR_MAIL,
                  p.Rcpt: p.Step.NR_RCPT, p.Data: p.Step.NR_DATA, p.Unknown: p.Step.NR_UNKN,
                  p.Header: p.Step.NR_HDR, p.EndOfHeaders: p.Step.NR_EOH, p.Body: p.Step.NR_BODY}


@dataclass
class MessageBytes(MessageBuffer):
    """The message rebuilt from HEADER/EOH/BODY events, bounded by size and by the server's
    budget of bytes in flight; the header fields as Postfix gave them."""

    fields: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes, value: bytes, leading_space: bool) -> Reply | None:
        self.fields.append((name, value))
        value = value if leading_space else b" " + value
        return self.add(name + b":" + value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n")


class MilterSession:
    """Reads packets, answers each that wants an answer, until Postfix quits or goes away."""

    def __init__(self, runtime: "Runtime", state: "ServerState", reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, refusal: Reply | None = None) -> None:
        self.runtime = runtime
        self.state = state
        self.reader = reader
        self.writer = writer
        self.refusal = refusal  # given at CONNECT instead of going on (too many connections)
        self.steps = p.Step(0)  # negotiated
        self.macros: dict[str, str] = {}
        self.flow: MessageFlow | None = None
        self.message: MessageBytes | None = None
        self.busy = False  # an end of message is being decided: shutdown waits for it
        self.postfix_id = ""  # Postfix's queue id (macro i), for the log
        self.rcpt_args: dict[str, str] = {}  # recipient -> as Postfix wrote it (for DELRCPT)
        self._answered: tuple[Outcome, Reply] | None = None  # decided, to record once told

    @property
    def idle(self) -> bool:
        return not self.busy and (self.flow is None or self.flow.txn is None)

    async def run(self) -> None:
        timeout = self.runtime.config.server.command_timeout
        try:
            while True:
                try:
                    head = await asyncio.wait_for(self.reader.readexactly(4), timeout)
                    packet = await asyncio.wait_for(self.reader.readexactly(p.packet_length(head)), timeout)
                    command = p.decode(packet)
                except asyncio.IncompleteReadError:
                    return  # Postfix closed the connection
                except TimeoutError:
                    log.info("milter connection idle for %gs: closing", timeout)
                    return
                except p.ProtocolError as exc:
                    log.warning("milter protocol error, closing: %s", exc)
                    return
                if isinstance(command, p.Quit):
                    return
                try:
                    responses = await self._answer(command)
                except p.ProtocolError as exc:  # an offer we cannot take
                    log.warning("milter negotiation failed, closing: %s", exc)
                    return
                if responses:
                    await self._send(responses)
                self._finish_answered()
                if self.state.shutting_down and self.idle:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            self._end_connection()
            self.writer.close()

    def _finish_answered(self) -> None:
        """The message Postfix has our answer for is recorded (after the answer, never before)."""
        if self._answered is not None and self.flow is not None:
            outcome, told = self._answered
            self.flow.finished(outcome, told, self.postfix_id)
        self._answered = None

    async def _send(self, responses: list[p.Response]) -> None:
        self.writer.write(b"".join(p.encode(r) for r in responses))
        await self.writer.drain()

    async def _answer(self, command: p.Command) -> list[p.Response]:
        """The responses to one command; an internal failure tempfails this message only."""
        try:
            responses = await self._handle(command)
        except p.ProtocolError:
            raise
        except Exception:
            if self.state.internal_errors.allow():
                log.exception("internal error in milter session (%s)", type(command).__name__)
            self._end_message()
            if self.flow is not None:
                self.flow.reset()
            responses = [_reply(INTERNAL_ERROR)]
        if isinstance(command, _SILENT):
            return []
        step = _NO_REPLY_STEP.get(type(command))
        if step is not None and step in self.steps:
            return []
        return responses

    async def _handle(self, command: p.Command) -> list[p.Response]:
        match command:
            case p.OptNeg():
                answer = p.negotiate(command)
                self.steps = answer.steps
                return [answer]
            case p.Macro(stage=stage, values=values):
                self.macros.update(values)
                if stage in "RTLNE" and values.get("i"):
                    self.postfix_id = values["i"]
                return []
            case p.Connect():
                return self._connect(command)
            case p.Helo(name=name):
                self._client(helo=helo_names.printable(name) or None, tls=bool(self.macros.get("{tls_version}")))
                return [p.CONTINUE]
            case p.Mail():
                return await self._mail(command)
            case p.Rcpt():
                return await self._rcpt(command)
            case p.Header(name=name, value=value):
                return _go_on(self._message().header(name, value, p.Step.HDR_LEADSPC in self.steps))
            case p.EndOfHeaders():
                return _go_on(self._message().add(b"\r\n"))
            case p.Body(chunk=chunk):
                return _go_on(self._message().add(chunk))
            case p.EndOfMessage(chunk=chunk):
                if chunk:
                    self._message().add(chunk)
                return await self._end_of_message()
            case p.Abort():
                self._end_message()
                if self.flow is not None:
                    self.flow.reset()
                return []
            case p.QuitNewConnection():
                self._end_connection()
                return []
        return [p.CONTINUE]  # DATA, unknown commands: nothing to say

    # --- the connection -----------------------------------------------------------------------

    def _connect(self, command: p.Connect) -> list[p.Response]:
        if self.refusal is not None:
            return [_reply(self.refusal)]
        self._end_connection()
        ip = plain_ip(command.address) if command.family in ("4", "6") else None
        # Postfix sends its verified client name, or "[address]" when it has none.
        name = command.hostname if command.hostname and not command.hostname.startswith("[") else None
        self.flow = MessageFlow(self.runtime, ClientFacts(ip=ip, port=command.port, name=name),
                                spawn=self.state.spawn, frontend="milter")
        self.flow.connected()
        return [p.CONTINUE]

    def _client(self, **changes) -> None:
        if self.flow is not None:
            self.flow.client_changed(replace(self.flow.client, **changes))

    def _end_connection(self) -> None:
        self._end_message()
        if self.flow is not None:
            self.flow.close()
            self.flow = None
        self.macros = {}

    # --- the transaction ----------------------------------------------------------------------

    def _need_flow(self) -> MessageFlow:
        if self.flow is None:  # MAIL before CONNECT: a peer that skips steps (SMFIP_NOCONNECT)
            self.flow = MessageFlow(self.runtime, ClientFacts(), spawn=self.state.spawn, frontend="milter")
        return self.flow

    async def _mail(self, command: p.Mail) -> list[p.Response]:
        flow = self._need_flow()
        self._end_message()
        flow.reset()
        self.postfix_id = ""
        self.rcpt_args = {}
        await flow.mail(command.address, command.has_param("SMTPUTF8"))
        return [p.CONTINUE]

    async def _rcpt(self, command: p.Rcpt) -> list[p.Response]:
        flow = self._need_flow()
        if flow.txn is None:
            return [_reply(INTERNAL_ERROR)]
        refusal = await flow.rcpt(command.address)
        if refusal is not None and refusal.ok:  # an abuse address: the flow took the recipient
            return [p.CONTINUE]
        if refusal is not None:
            return [_reply(refusal)]
        # Postfix asks its milters after its own recipient checks: it takes this recipient.
        flow.accepted(command.address)
        self.rcpt_args[command.address] = command.args[0] if command.args else f"<{command.address}>"
        return [p.CONTINUE]

    # --- the message --------------------------------------------------------------------------

    def _message(self) -> MessageBytes:
        if self.message is None:
            self.message = MessageBytes(self.state.inflight, self.runtime.config.server.max_message_size)
        return self.message

    def _end_message(self) -> None:
        if self.message is not None:
            self.message.release()
            self.message = None

    async def _end_of_message(self) -> list[p.Response]:
        message = self._message()
        flow = self.flow
        if message.refusal is not None or flow is None or flow.txn is None or not flow.txn.rcpts:
            refusal = message.refusal or INTERNAL_ERROR
            self._end_message()
            if flow is not None:
                if message.refusal is not None:
                    flow.refused("data", refusal, reasons.LIMIT)
                flow.reset()
            return [_reply(refusal)]
        raw = message.contents()
        self.busy = True
        try:
            outcome = await self._with_progress(flow.data(raw))
        finally:
            self.busy = False
        responses, told = self._decision(outcome, message.fields)
        self._end_message()  # logged by the flow once Postfix has the answer
        self._answered = (outcome, told)
        return responses

    def _decision(self, outcome: Outcome, received: list[tuple[bytes, bytes]]) -> tuple[list[p.Response], Reply]:
        """What we tell Postfix, and the reply that stands for it in the history."""
        if outcome.kind is Kind.DELIVER:
            # Postfix writes the Received header in milter mode; the flow adds one in front mode.
            fields = [f for f in outcome.headers if not f.lower().startswith("received:")]
            edits = header_edits(received, fields, authserv_id=self.runtime.config.authserv_id,
                                 subject_tag=outcome.subject_tag,
                                 leading_space=p.Step.HDR_LEADSPC in self.steps)
            held = [] if outcome.rcpts is None else [
                p.DeleteRecipient(wire) for rcpt, wire in self.rcpt_args.items() if rcpt not in outcome.rcpts]
            return [*edits, *held, p.ACCEPT], TOLD_ACCEPTED
        assert outcome.reply is not None
        if outcome.kind in (Kind.QUARANTINE, Kind.TAKEN):  # stored by us: Postfix delivers nothing
            return [p.DISCARD], outcome.reply
        return [_reply(outcome.reply)], outcome.reply

    async def _with_progress(self, work: Awaitable[Outcome]) -> Outcome:
        """`work`'s result; meanwhile a PROGRESS packet now and then keeps Postfix waiting."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
                if done:
                    return task.result()
                await self._send([p.PROGRESS])
        finally:
            if not task.done():
                task.cancel()


def _reply(reply: Reply) -> p.ReplyCode:
    return p.ReplyCode(reply.code, reply.text)


def _go_on(refusal: Reply | None) -> list[p.Response]:
    """CONTINUE, or the refusal that ends this message (too big, no room)."""
    return [_reply(refusal) if refusal else p.CONTINUE]


