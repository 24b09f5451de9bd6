"""`mailguard ads ledger` and `mailguard ads refusals list|add|remove`, through the real command
line, with a temporary config and --state-dir."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from mailguard.store.backends import DB_NAME
from mailguard.store.ledger import PENDING_SECONDS, WINDOW_SECONDS
from mailguard.store.refusals import Refusal
from mailguard.store.sqlite import SqliteStore

from realservers import VENV_BIN


@pytest.fixture
def mg(tmp_path):
    config = tmp_path / "mailguard.toml"
    config.write_text("# defaults\n")
    state = tmp_path / "state"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "mailguard"), "ads", *args, "--config", str(config),
                               "--state-dir", str(state)], capture_output=True, text=True, timeout=60)

    run.db = state / DB_NAME
    return run


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def parse_iso(text: str) -> float:
    assert text.endswith("Z"), text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def test_refusals_add_list_remove(mg):
    before = time.time()
    res = mg("refusals", "add", "--recipient", "Bob@Example.VN", "--advertiser", "news.Shop.vn")
    assert res.returncode == 0, res.stderr
    assert "bob@example.vn" in res.stdout and "shop.vn" in res.stdout  # what it stored, normalised
    assert mg("refusals", "add", "--recipient", "carol@example.vn", "--advertiser", "promo@mail.other.vn").returncode == 0

    res = mg("refusals", "add", "--recipient", "bob@example.vn", "--advertiser", "shop.vn")
    assert res.returncode == 0 and "already" in res.stdout

    res = mg("refusals", "list", "--json")
    assert res.returncode == 0, res.stderr
    found = lines(res.stdout)
    assert [(r["recipient"], r["advertiser"], r["source"]) for r in found] == [
        ("bob@example.vn", "shop.vn", "command"), ("carol@example.vn", "other.vn", "command")]
    assert all(before - 1 <= parse_iso(r["at"]) <= time.time() + 1 for r in found)
    text = mg("refusals", "list")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 2 and "shop.vn" in text.stdout

    res = mg("refusals", "remove", "--recipient", "BOB@example.vn", "--advertiser", "shop.vn")
    assert res.returncode == 0, res.stderr
    res = mg("refusals", "remove", "--recipient", "bob@example.vn", "--advertiser", "shop.vn")
    assert res.returncode == 1 and "no refusal" in res.stderr
    assert [r["recipient"] for r in lines(mg("refusals", "list", "--json").stdout)] == ["carol@example.vn"]


@pytest.mark.parametrize("recipient, advertiser, named", [
    ("bob", "shop.vn", "--recipient"),
    ("@example.vn", "shop.vn", "--recipient"),
    ("bob@exa mple.vn", "shop.vn", "--recipient"),
    ("bob@example.vn", "not a domain", "--advertiser"),
    ("bob@example.vn", "", "--advertiser"),
])
def test_a_bad_address_or_domain_is_a_usage_error(mg, recipient, advertiser, named):
    for action in ("add", "remove"):
        res = mg("refusals", action, "--recipient", recipient, "--advertiser", advertiser)
        assert res.returncode == 2, (action, res.stdout, res.stderr)
        assert named in res.stderr and res.stdout == ""
    assert not mg.db.exists() or mg("refusals", "list", "--json").stdout == ""


def test_missing_options_are_usage_errors(mg):
    assert mg("refusals", "add", "--recipient", "bob@example.vn").returncode == 2
    assert mg("ledger").returncode == 2
    assert mg("ledger", "--recipient", "nobody").returncode == 2


def test_ledger_per_advertiser_over_the_last_24_hours(mg):
    now = time.time()

    async def fill():
        async with SqliteStore(mg.db) as store:
            async def ad(advertiser, age, confirm=True, recipient="bob@example.vn"):
                (slot,) = await store.reserve(advertiser, {recipient: 3}, now - age)
                if confirm:
                    await store.confirm([slot.id])

            await ad("shop.vn", WINDOW_SECONDS + 60)  # out of the window
            await ad("shop.vn", 7200)
            await ad("other.vn", 3000)
            await ad("shop.vn", 600)
            await ad("shop.vn", 60, confirm=False)  # pending, live
            await ad("other.vn", PENDING_SECONDS + 60, confirm=False)  # pending, lapsed
            await ad("shop.vn", 30, recipient="carol@example.vn")
            await store.add_refusal(Refusal("bob@example.vn", "shop.vn", now, "report"))

    asyncio.run(fill())
    res = mg("ledger", "--recipient", "Bob@EXAMPLE.vn", "--json")
    assert res.returncode == 0, res.stderr
    got = {g["advertiser"]: g for g in lines(res.stdout)}
    assert list(got) == ["shop.vn", "other.vn"]  # in the order of each one's first ad
    shop, other = got["shop.vn"], got["other.vn"]
    assert (shop["recipient"], shop["count"], shop["confirmed"], shop["pending"]) == ("bob@example.vn", 3, 2, 1)
    assert [round(now - parse_iso(t)) for t in shop["times"]] == pytest.approx([7200, 600, 60], abs=2)
    assert (shop["first"], shop["last"]) == (shop["times"][0], shop["times"][-1])
    assert (other["count"], len(other["times"])) == (1, 1)

    text = mg("ledger", "--recipient", "bob@example.vn")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 2
    assert "shop.vn  3 (1 pending)" in text.stdout

    empty = mg("ledger", "--recipient", "dave@example.vn", "--json")
    assert empty.returncode == 0 and empty.stdout == ""


def test_an_unusable_store_is_exit_1(mg):
    mg.db.parent.mkdir(parents=True)
    mg.db.write_bytes(b"not a database" * 100)
    res = mg("refusals", "list")
    assert res.returncode == 1 and str(mg.db) in res.stderr
