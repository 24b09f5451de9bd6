"""`mailguard reports list|show|stats` and `mailguard blocklist list|remove`, through the real
command line, with a temporary config and --state-dir (the store filled with SqliteStore first)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from mailguard.store.backends import DB_NAME
from mailguard.store.reports import ReportRecord
from mailguard.store.sqlite import SqliteStore

from realservers import VENV_BIN

DAY = 86400


@pytest.fixture
def mg(tmp_path):
    config = tmp_path / "mailguard.toml"
    config.write_text("# defaults\n")
    state = tmp_path / "state"

    def run(*args: str, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "mailguard"), *args, "--config", str(config), "--state-dir", str(state)],
                              capture_output=True, text=text, timeout=60)

    run.db = state / DB_NAME
    return run


def fill(path, work):
    async def go():
        async with SqliteStore(path) as store:
            await work(store)

    asyncio.run(go())


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


NOW = time.time()


def report(n: int, at: float, reporter: str = "bob@example.vn", kind: str = "spam", **kw) -> ReportRecord:
    fields = dict(id=f"R{n}", received=at, reporter=reporter, kind=kind, sender=f"s{n}@spam.example",
                  client_ip="192.0.2.7", subject=f"Khuyến mãi {n}", message_id=f"<m{n}@spam.example>",
                  status="done", shape="attached", raw=f"From: bob@example.vn\r\n\r\nraw report {n}\r\n".encode())
    fields.update(kw)
    return ReportRecord(**fields)


async def _reports(store):
    await store.add_report(report(1, NOW - 3 * DAY, steps=("learnt spam", "counted ip=192.0.2.7")))
    await store.add_report(report(2, NOW - 3600, reporter="carol@example.vn", client_ip=None, steps=("learnt spam",)))
    await store.add_report(report(3, NOW - 60, kind="ham", status="unparsed", shape="", steps=("learnt ham",)))


def test_reports_list_json_and_text(mg):
    fill(mg.db, _reports)
    res = mg("reports", "list", "--json")
    assert res.returncode == 0, res.stderr
    found = lines(res.stdout)
    assert [r["id"] for r in found] == ["R3", "R2", "R1"]  # newest first
    first = found[2]
    assert {k: first[k] for k in ("reporter", "kind", "sender", "client_ip", "subject", "status")} == {
        "reporter": "bob@example.vn", "kind": "spam", "sender": "s1@spam.example", "client_ip": "192.0.2.7",
        "subject": "Khuyến mãi 1", "status": "done"}
    assert abs(parse_iso(first["received"]) - (NOW - 3 * DAY)) < 1.5
    assert first["steps"] == ["learnt spam", "counted ip=192.0.2.7"] and found[1]["client_ip"] is None
    assert [r["id"] for r in lines(mg("reports", "list", "--json", "--since", "2d").stdout)] == ["R3", "R2"]
    text = mg("reports", "list", "--since", "30m")
    assert text.returncode == 0 and text.stdout.count("\n") == 1 and "R3" in text.stdout and "ham" in text.stdout
    bad = mg("reports", "list", "--since", "yesterday-ish")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_reports_show_prints_record_steps_and_raw(mg):
    fill(mg.db, _reports)
    res = mg("reports", "show", "R1", text=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"From: bob@example.vn\r\n\r\nraw report 1\r\n"
    err = res.stderr.decode()
    assert "id: R1" in err and "reporter: bob@example.vn" in err and "status: done" in err
    assert "  learnt spam\n  counted ip=192.0.2.7" in err
    missing = mg("reports", "show", "R9")
    assert missing.returncode == 1 and "no report R9" in missing.stderr


def test_reports_stats(mg):
    async def work(store):
        await _reports(store)
        for who in ("a", "b", "c"):
            await store.count_report("ip", "192.0.2.7", f"{who}@example.vn", NOW - 10, DAY, 5, DAY)
        await store.count_report("domain", "spam.example", "a@example.vn", NOW - 5, DAY, 5, DAY)

    fill(mg.db, work)
    res = mg("reports", "stats", "--json")
    assert res.returncode == 0, res.stderr
    (data,) = lines(res.stdout)
    assert data["reports"] == 3 and data["by_kind"] == {"spam": 2, "ham": 1}
    assert data["learnt"] == {"spam": 2, "ham": 1} and data["by_status"] == {"done": 2, "unparsed": 1}
    assert data["top_reporters"] == [{"reporter": "bob@example.vn", "reports": 2},
                                     {"reporter": "carol@example.vn", "reports": 1}]
    assert [(s["source"], s["reporters"]) for s in data["top_sources"]] == [("ip:192.0.2.7", 3),
                                                                           ("domain:spam.example", 1)]
    (recent,) = lines(mg("reports", "stats", "--json", "--since", "2d", "--top", "1").stdout)
    assert recent["reports"] == 2 and len(recent["top_reporters"]) == 1 and len(recent["top_sources"]) == 1
    text = mg("reports", "stats")
    assert text.returncode == 0 and "spam 2, ham 1" in text.stdout and "ip:192.0.2.7" in text.stdout


def test_blocklist_list_and_remove(mg):
    async def work(store):
        for who in ("a", "b"):
            await store.count_report("ip", "2001:db8::7", f"{who}@example.vn", NOW - 100, DAY, 2, 7 * DAY)
        await store.count_report("domain", "spam.example", "a@example.vn", NOW - 50, DAY, 1, 7 * DAY)
        await store.count_report("link", "gone.example", "a@example.vn", NOW - 3 * DAY, DAY, 1, DAY)  # expired
        await store.count_report("address", "x@spam.example", "a@example.vn", NOW - 10, DAY, 2, DAY)  # below

    fill(mg.db, work)
    res = mg("blocklist", "list", "--json")
    assert res.returncode == 0, res.stderr
    found = lines(res.stdout)
    assert [e["entry"] for e in found] == ["domain:spam.example", "ip:2001:db8::7"]  # newest first
    assert found[1]["reporters"] == 2 and found[1]["kind"] == "ip" and found[1]["value"] == "2001:db8::7"
    assert abs(parse_iso(found[1]["expires"]) - (NOW - 100 + 7 * DAY)) < 1.5
    assert "domain:spam.example" in mg("blocklist", "list").stdout

    res = mg("blocklist", "remove", "ip:2001:DB8:0::7")  # normalised as the intake counts it
    assert res.returncode == 0, res.stderr
    assert [e["entry"] for e in lines(mg("blocklist", "list", "--json").stdout)] == ["domain:spam.example"]
    again = mg("blocklist", "remove", "ip:2001:db8::7")
    assert again.returncode == 1 and "not on the block list" in again.stderr
    for bad in ("192.0.2.7", "ip:not-an-ip", "host:spam.example", "domain:"):
        res = mg("blocklist", "remove", bad)
        assert res.returncode == 2, (bad, res.stderr)
    assert mg("blocklist", "remove", "Domain:spam.example").returncode == 2  # kinds are lower case
    assert mg("blocklist", "remove", "domain:SPAM.example.").returncode == 0


def test_an_empty_store_lists_nothing(mg):
    for args in (("reports", "list"), ("reports", "list", "--json"), ("blocklist", "list", "--json")):
        res = mg(*args)
        assert res.returncode == 0 and res.stdout == "", (args, res.stderr)
