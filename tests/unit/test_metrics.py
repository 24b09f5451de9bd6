"""The metrics: the recorder the flow, the pipeline, the resolver and the server count into, the
gauges read at scrape time, several worker processes summed, and the /metrics listener."""
from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys

import prometheus_client
import pytest
from prometheus_client import generate_latest

from bayestools import saved_model
from mailguard import config
from mailguard.bayes.holder import ModelHolder
from mailguard.config import Config, HostPort
from mailguard.dnsresolver import DnsAnswer, DnsTempError, DnsTimeout, Resolver, Status
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.metrics import NO_METRICS, NoMetrics, Recorder
from mailguard.metrics import listener as listener_mod
from mailguard.metrics.exposition import Exposition
from mailguard.metrics.listener import MetricsListener
from mailguard.metrics.prometheus import PrometheusRecorder
from mailguard.metrics.state import StateSources
from mailguard.scan.facts import ClientFacts
from mailguard.scan.pipeline import Check, Pipeline, ScanContext
from mailguard.scan.verdict import Action, Symbol
from mailguard.smtp.replies import Reply
from mailguard.smtp.server import ServerState
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore
from metricstools import Samples

RAW = b"From: a@outside.example\r\nSubject: offer\r\n\r\nbody\r\n"


def samples(recorder: PrometheusRecorder) -> Samples:
    return Samples.parse(generate_latest(recorder.registry).decode())


def public_methods(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_the_no_op_and_the_prometheus_recorder_both_implement_every_recorder_method():
    assert public_methods(Recorder) == public_methods(NoMetrics) == public_methods(PrometheusRecorder)


def test_each_recorder_owns_its_registry_and_the_global_one_stays_empty():
    first, second = PrometheusRecorder(), PrometheusRecorder()
    first.message("reject", "smtp")
    assert samples(first).get("mailguard_messages_total", action="reject", frontend="smtp") == 1
    assert samples(second).get("mailguard_messages_total", action="reject", frontend="smtp") == 0
    assert "mailguard_messages_total" not in generate_latest(prometheus_client.REGISTRY).decode()


def test_every_action_and_front_end_is_there_from_the_start():
    fresh = samples(PrometheusRecorder())
    for frontend in ("smtp", "milter"):
        for action in Action:
            assert fresh.get("mailguard_messages_total", action=action.value, frontend=frontend) == 0


def flow_services(store, score: float, metrics: Recorder, force: Action | None = None) -> ScanServices:
    config = Config()

    async def check(ctx):
        return [Symbol("TEST_SCORE", score, force=force)]

    pipeline = Pipeline((Check("TEST", check, budget=1.0),), config.actions, deadline=5.0, metrics=metrics)
    return ScanServices(config, pipeline, store=store, hostname="mailguard.test", metrics=metrics)


async def one_message(services: ScanServices, frontend: str) -> Kind:
    flow = MessageFlow(services, ClientFacts(ip="192.0.2.7"), frontend=frontend)
    await flow.mail("a@outside.example", smtputf8=False)
    assert await flow.rcpt("user@test.example") is None
    flow.accepted("user@test.example")
    outcome = await flow.data(RAW)
    flow.finished(outcome, outcome.reply or Reply(250, "2.0.0 Ok: queued as X"))
    return outcome.kind


def test_messages_are_counted_by_action_and_front_end_once_answered_and_the_quarantine_is_read_at_scrape(tmp_path):
    recorder = PrometheusRecorder()

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert await one_message(flow_services(store, 13.0, recorder), "milter") is Kind.QUARANTINE
            assert await one_message(flow_services(store, 1.0, recorder, Action.REJECT), "smtp") is Kind.REJECT
            assert await one_message(flow_services(store, 6.0, recorder), "smtp") is Kind.DELIVER
            return await StateSources(store, lambda: None).read(timeout=5.0)

    reading = asyncio.run(go())
    m = samples(recorder)
    assert m.get("mailguard_messages_total", action="quarantine", frontend="milter") == 1
    assert m.get("mailguard_messages_total", action="reject", frontend="smtp") == 1
    assert m.get("mailguard_messages_total", action="add_header", frontend="smtp") == 1
    assert m.get("mailguard_symbols_total", symbol="TEST_SCORE") == 3
    assert m.get("mailguard_scan_seconds_count") == 3
    assert m.get("mailguard_check_seconds_count", check="TEST") == 3
    assert (reading.quarantine_messages, reading.quarantine_bytes) == (1, len(RAW))
    assert reading.bayes is None  # [bayes] off: no Bayes gauges


def test_recipients_refused_by_the_flow_are_counted_by_reason():
    recorder = PrometheusRecorder()
    config = Config().replace("server", max_recipients=1)

    async def listed(ctx):
        return [Symbol("TEST_LISTED", 0.0, force=Action.REJECT)] if ctx.facts.rcpts[0].startswith("trap@") else []

    pipeline = Pipeline((Check("TEST", listed, budget=1.0, phase="rcpt"),), config.actions, deadline=5.0)
    services = ScanServices(config, pipeline, metrics=recorder)

    async def go():
        flow = MessageFlow(services, ClientFacts(ip="192.0.2.7"))
        await flow.mail("a@outside.example", smtputf8=False)
        assert (await flow.rcpt("trap@test.example")).code == 550
        assert await flow.rcpt("user@test.example") is None
        flow.accepted("user@test.example")
        assert (await flow.rcpt("more@test.example")).code == 452

    asyncio.run(go())
    m = samples(recorder)
    assert m.get("mailguard_rcpt_refused_total", reason="policy") == 1
    assert m.get("mailguard_rcpt_refused_total", reason="too_many_recipients") == 1
    assert m.get("mailguard_symbols_total", symbol="TEST_LISTED") == 1


def test_checks_that_raise_or_run_out_of_time_are_counted_by_check():
    recorder = PrometheusRecorder()

    async def boom(ctx):
        raise RuntimeError("bug")

    async def slow(ctx):
        await asyncio.Event().wait()

    pipeline = Pipeline((Check("BOOM", boom, 1.0), Check("SLOW", slow, 0.05)), Config().actions, deadline=5.0,
                        metrics=recorder)
    from mailguard.scan.facts import MessageFacts

    verdict = asyncio.run(pipeline.evaluate(ScanContext(MessageFacts(ClientFacts(), "", (), "Q"), RAW)))
    assert {"CHECK_ERROR_BOOM", "CHECK_TIMEOUT_SLOW"} <= {s.name for s in verdict.symbols}
    m = samples(recorder)
    assert m.get("mailguard_check_errors_total", check="BOOM") == 1
    assert m.get("mailguard_check_timeouts_total", check="SLOW") == 1
    assert m.get("mailguard_check_seconds_count", check="SLOW") == 1


class Transport:
    """Answers A questions with one address; hangs on names under "hang.", times out under "slow."."""

    def __init__(self) -> None:
        self.asked = 0

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked += 1
        if name.startswith("hang."):
            await asyncio.Event().wait()
        if name.startswith("slow."):
            raise DnsTimeout(f"{name}: timed out")
        return DnsAnswer(name, rdtype, Status.OK, ("192.0.2.1",), ttl=300)


def test_dns_queries_cache_hits_and_timeouts_are_counted():
    recorder = PrometheusRecorder()
    resolver = Resolver(Transport(), timeout=0.05, metrics=recorder)

    async def go():
        await resolver.lookup("a.example", "A")
        await resolver.lookup("A.example.", "A")  # the same question: from the cache
        for name in ("hang.example", "slow.example"):
            try:
                await resolver.lookup(name, "A")
            except DnsTempError:
                pass
            else:
                raise AssertionError(f"{name} answered")

    asyncio.run(go())
    m = samples(recorder)
    assert m.get("mailguard_dns_queries_total") == 3
    assert m.get("mailguard_dns_cache_hits_total") == 1
    assert m.get("mailguard_dns_timeouts_total") == 2


def test_open_connections_and_refusals_by_limit():
    recorder = PrometheusRecorder()
    state = ServerState(max_connections=10, per_ip=1, metrics=recorder)
    first, second = object(), object()
    assert state.admit(first, "192.0.2.7", limit_per_client=True) == ""
    assert state.admit(second, "192.0.2.7", limit_per_client=True).startswith("421")
    state.refused(second)
    assert samples(recorder).get("mailguard_connections_open", frontend="smtp") == 2
    state.release(second)
    state.release(second)  # released twice (EOF, then connection lost): counted out once
    m = samples(recorder)
    assert m.get("mailguard_connections_open", frontend="smtp") == 1
    assert m.get("mailguard_connections_refused_total", limit="per_ip", frontend="smtp") == 1
    assert m.get("mailguard_connections_refused_total", limit="per_net", frontend="smtp") == 0


def test_bayes_gauges_come_from_the_model_in_use(tmp_path):
    path = tmp_path / "bayes.model"
    saved_model(path, 4, 2)
    holder = ModelHolder.load(path)
    written = os.stat(path).st_mtime
    reading = asyncio.run(StateSources(None, lambda: holder).read(timeout=5.0, clock=lambda: written + 90))
    assert reading.bayes is not None
    assert (reading.bayes.loaded, reading.bayes.spam, reading.bayes.ham) == (True, 4, 2)
    assert reading.bayes.age_seconds == 90
    missing = asyncio.run(StateSources(None, lambda: ModelHolder.load(tmp_path / "none")).read(timeout=5.0))
    assert missing.bayes is not None and not missing.bayes.loaded and missing.bayes.age_seconds is None


class BrokenStore:
    async def quarantine_size(self) -> tuple[int, int]:
        raise OSError("disk gone")


class StuckStore:
    async def quarantine_size(self) -> tuple[int, int]:
        await asyncio.Event().wait()
        return 0, 0


def test_a_store_that_fails_or_hangs_leaves_only_its_gauges_out_of_the_scrape(tmp_path, monkeypatch):
    from mailguard.metrics import exposition as exposition_mod

    monkeypatch.setattr(exposition_mod, "STATE_TIMEOUT", 0.05)
    path = tmp_path / "bayes.model"
    saved_model(path, 1, 1)
    holder = ModelHolder.load(path)
    for store in (BrokenStore(), StuckStore()):
        exposition = Exposition(PrometheusRecorder().registry, StateSources(store, lambda: holder))
        m = Samples.parse(asyncio.run(exposition.render()).decode())
        assert m.get("mailguard_quarantine_messages") is None
        assert m.get("mailguard_bayes_model_loaded") == 1
        assert m.get("mailguard_messages_total", action="accept", frontend="smtp") == 0


WORKER = """
import sys
from mailguard.metrics.prometheus import PrometheusRecorder
recorder = PrometheusRecorder()
for _ in range(int(sys.argv[1])):
    recorder.message("reject", "smtp")
recorder.check_latency("RULES", 0.01)
recorder.connection_opened("smtp")
"""


def test_several_worker_processes_are_summed_from_the_multiprocess_directory(tmp_path):
    from prometheus_client import multiprocess

    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    pids = []
    for count in (2, 3):
        worker = subprocess.Popen([sys.executable, "-c", WORKER, str(count)], env=env)
        assert worker.wait(timeout=60) == 0
        pids.append(worker.pid)
    exposition = Exposition(PrometheusRecorder().registry, StateSources(None, lambda: None), str(folder))
    m = Samples.parse(asyncio.run(exposition.render()).decode())
    assert m.get("mailguard_messages_total", action="reject", frontend="smtp") == 5
    assert m.get("mailguard_check_seconds_count", check="RULES") == 2
    assert m.get("mailguard_connections_open", frontend="smtp") == 2
    multiprocess.mark_process_dead(pids[0], str(folder))  # what a supervisor does when a worker ends
    m = Samples.parse(asyncio.run(exposition.render()).decode())
    assert m.get("mailguard_connections_open", frontend="smtp") == 1
    assert m.get("mailguard_messages_total", action="reject", frontend="smtp") == 5  # counts stay


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def test_the_listener_serves_metrics_and_refuses_everything_else():
    async def render() -> bytes:
        return b"mailguard_up 1\n"

    async def go():
        listener = await MetricsListener.start(HostPort("127.0.0.1", 0), render)
        port = listener.bound.port
        try:
            ok = await _exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await _exchange(port, b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n")
            other = await _exchange(port, b"GET /secret HTTP/1.1\r\n\r\n")
            post = await _exchange(port, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            junk = await _exchange(port, b"\x16\x03\x01 hello\r\n\r\n")
            huge = await _exchange(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
        finally:
            listener.close()
        return ok, head, other, post, junk, huge

    ok, head, other, post, junk, huge = asyncio.run(go())
    assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"\r\n\r\nmailguard_up 1\n")
    assert b"Content-Type: text/plain; version=0.0.4" in ok
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert other.startswith(b"HTTP/1.1 404 ")
    assert post.startswith(b"HTTP/1.1 405 ")
    assert junk.startswith(b"HTTP/1.1 400 ")
    assert huge.startswith(b"HTTP/1.1 431 ")


def test_the_listener_closes_a_silent_client_at_its_deadline_and_bounds_scrapes_at_once(monkeypatch):
    monkeypatch.setattr(listener_mod, "REQUEST_TIMEOUT", 0.2)

    async def go():
        gate = asyncio.Event()
        started = []

        async def render() -> bytes:
            started.append(True)
            await gate.wait()
            return b"x 1\n"

        listener = await MetricsListener.start(HostPort("127.0.0.1", 0), render)
        port = listener.bound.port
        try:
            silent = await _exchange(port, b"")  # says nothing: closed without an answer
            monkeypatch.setattr(listener_mod, "REQUEST_TIMEOUT", 30.0)
            waiting = [asyncio.ensure_future(_exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n"))
                       for _ in range(listener_mod.MAX_SCRAPES)]
            while len(started) < listener_mod.MAX_SCRAPES:
                await asyncio.sleep(0)
            over = await _exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")
            gate.set()
            answered = await asyncio.gather(*waiting)
        finally:
            listener.close()
        return silent, over, answered

    silent, over, answered = asyncio.run(go())
    assert silent == b""
    assert over.startswith(b"HTTP/1.1 503 ")
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answered)


def test_scan_and_a_server_without_metrics_use_the_no_op_recorder():
    assert ScanServices(Config(), Pipeline((), Config().actions, 1.0)).metrics is NO_METRICS
    assert Pipeline((), Config().actions, 1.0).metrics is NO_METRICS


def test_metrics_are_off_by_default_and_a_bad_listen_address_names_file_key_and_line(tmp_path):
    assert Config().metrics_listen is None
    path = tmp_path / "m.toml"
    path.write_text('[metrics]\nlisten = "127.0.0.1:9325"\n')
    assert config.load(path).metrics_listen == HostPort("127.0.0.1", 9325)
    path.write_text('[metrics]\nlisten = "127.0.0.1"\n')
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert "m.toml:2: [metrics] listen: '127.0.0.1': a port is required" in str(err.value)
