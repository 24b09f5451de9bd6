"""Talking the milter protocol as Postfix does, packet by packet, for tests that need to say
exactly what Postfix would (a client address of their choosing, a step at a time)."""
from __future__ import annotations

import socket
import struct


def milter_packet(letter: bytes, data: bytes = b"") -> bytes:
    return struct.pack("!I", 1 + len(data)) + letter + data


def milter_response(conn: socket.socket) -> bytes:
    """One response packet (letter and data), b"" once the connection is closed."""
    head = conn.recv(4, socket.MSG_WAITALL)
    if len(head) < 4:
        return b""
    (length,) = struct.unpack("!I", head)
    return conn.recv(length, socket.MSG_WAITALL)


def milter_negotiate(conn: socket.socket) -> None:
    """Protocol 6, every action, every "no reply" step Postfix offers."""
    conn.sendall(milter_packet(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF)))
    assert milter_response(conn)[:1] == b"O"


def milter_connect(conn: socket.socket, ip: str, port: int = 40000) -> None:
    """CONNECT from an IPv4 client (Postfix names it "[ip]" when it has no verified name)."""
    conn.sendall(milter_packet(b"C", f"[{ip}]".encode() + b"\x004" + struct.pack("!H", port) + ip.encode() + b"\x00"))
    assert milter_response(conn) == b"c"
