"""Connection limits counted across worker processes (mailguard/clientcounts.py): a client's
connections to every worker count against [server] max_connections_per_ip, _per_net and
max_connections, and a worker that dies gives its connections back."""
from __future__ import annotations

import os

from mailguard.clientcounts import SharedTable
from mailguard.smtp.server import ServerState


def workers_states(count: int, **limits) -> tuple[SharedTable, list[ServerState]]:
    table = SharedTable.create(count)
    states = [ServerState(max_connections=limits.pop("max_connections", 100), **limits) for _ in range(count)]
    for i, state in enumerate(states):
        state.clients = table.for_worker(i)
    return table, states


def test_a_clients_connections_to_two_workers_count_together():
    _, (w0, w1) = workers_states(2, per_ip=2, per_net=10)
    assert w0.admit("a", "192.0.2.7", limit_per_client=True) == ""
    assert w1.admit("b", "192.0.2.7", limit_per_client=True) == ""
    third = w1.admit("c", "192.0.2.7", limit_per_client=True)
    assert third.startswith("421") and "your address" in third
    assert w0.admit("d", "192.0.2.8", limit_per_client=True) == ""  # another address of the /24: under per_net
    w1.release("c")
    w0.release("a")
    assert w0.admit("e", "192.0.2.7", limit_per_client=True) == ""


def test_the_network_and_the_total_count_across_workers():
    _, (w0, w1) = workers_states(2, per_ip=10, per_net=2, max_connections=3)
    assert w0.admit("a", "198.51.100.1", limit_per_client=True) == ""
    assert w1.admit("b", "198.51.100.2", limit_per_client=True) == ""
    assert "your network" in w0.admit("c", "198.51.100.3", limit_per_client=True)
    w0.release("c")
    assert w1.admit("d", "203.0.113.9", limit_per_client=True) == ""
    assert w0.admit("e", "203.0.113.10", limit_per_client=True) == "421 4.7.0 Too many connections, try again later"


def test_a_dead_workers_connections_are_given_back():
    table, (w0, w1) = workers_states(2, per_ip=1)
    assert w0.admit("a", "192.0.2.7", limit_per_client=True) == ""
    assert w1.admit("b", "192.0.2.7", limit_per_client=True).startswith("421")
    w1.release("b")
    table.clear(0)  # worker 0 was killed: it never released "a"
    assert w1.admit("c", "192.0.2.7", limit_per_client=True) == ""


def test_the_table_is_shared_with_forked_workers():
    table, (w0, _) = workers_states(2, per_ip=1)
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # worker 1: holds a connection of the client until told to end
        try:
            state = ServerState(max_connections=100, per_ip=1)
            state.clients = table.for_worker(1)
            state.admit("held", "192.0.2.7", limit_per_client=True)
            os.write(ready_w, b"R")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"R"
        assert w0.admit("a", "192.0.2.7", limit_per_client=True).startswith("421")
        w0.release("a")
    finally:
        os.write(done_w, b"D")
        os.waitpid(pid, 0)
    table.clear(1)
    assert w0.admit("b", "192.0.2.7", limit_per_client=True) == ""
