"""The milter listener: one MilterSession per connection (Postfix opens one per smtpd session).

It shares the SMTP listener's runtime (through `current_runtime`, so a reload reaches new
connections), its ServerState (background tasks, the budget of bytes in flight, stopping) and
its shutdown grace.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailguard.config import HostPort
from mailguard.milter.session import MilterSession
from mailguard.smtp.replies import Reply

if TYPE_CHECKING:
    from mailguard.smtp.server import Runtime, ServerState

log = logging.getLogger("mailguard.milter")

TOO_MANY = Reply(421, "4.7.0 Too many connections, try again later")


@dataclass
class MilterServer:
    server: asyncio.Server
    bound: HostPort
    sessions: set[MilterSession] = field(default_factory=set)
    tasks: set[asyncio.Task] = field(default_factory=set)

    @classmethod
    async def start(cls, listen: HostPort, current_runtime: Callable[[], "Runtime"],
                    state: "ServerState", sock: socket.socket | None = None) -> "MilterServer":
        """Listening on `listen` (port 0: a free one, in `bound`), or accepting on `sock` bound
        already (worker processes); OSError when it cannot."""
        holder: list[MilterServer] = []

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            me = holder[0]
            runtime = current_runtime()
            full = len(me.sessions) >= runtime.config.server.max_connections
            session = MilterSession(runtime, state, reader, writer, refusal=TOO_MANY if full else None)
            if full:
                state.metrics.connection_refused("max_connections", "milter")
            me.sessions.add(session)
            state.metrics.connection_opened("milter")
            task = asyncio.current_task()
            if task is not None:
                me.tasks.add(task)
            try:
                await session.run()
            except Exception:
                log.exception("milter session failed")
            finally:
                state.metrics.connection_closed("milter")
                me.sessions.discard(session)
                if task is not None:
                    me.tasks.discard(task)

        if sock is not None:
            server = await asyncio.start_server(connected, sock=sock)
        else:
            server = await asyncio.start_server(connected, host=listen.host, port=listen.port, reuse_address=True)
        me = cls(server, HostPort(listen.host, server.sockets[0].getsockname()[1]))
        holder.append(me)
        return me

    async def shutdown(self, grace: float) -> None:
        """No new connections; idle ones close now, one deciding a message when it is told (at
        most `grace` seconds). Postfix then applies milter_default_action to what comes next."""
        self.server.close()
        for session in list(self.sessions):
            if session.idle:
                session.writer.close()
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=grace)
            for task in late:
                log.warning("closing a milter connection still open at the end of the grace period")
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5.0)
