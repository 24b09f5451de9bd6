"""The daily quarantine digest: one mail per recipient listing what was held for them the day
before (sender, Subject, date, id, how to ask for it), never the held message's content or a
link, queued through the outbox once per day and recipient."""
from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import replace
from datetime import datetime, timezone

from mailguard.config import from_text
from mailguard.quarantine.digest import day_to_send, send_digests
from mailguard.store.backends import DB_NAME
from mailguard.store.records import MessageRecord, QuarantineEntry
from mailguard.store.sqlite import SqliteStore

DAY = 86400.0
YESTERDAY = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
NOW = YESTERDAY + DAY + 3600.0  # 01:00 UTC the day after
SECRET = "the-private-body-text-7731"


def held(queue_id: str, at: float, rcpts: tuple[str, ...], subject: str, sender: str = "Prize <win@prize.example>"):
    record = MessageRecord(queue_id=queue_id, time=at, client_ip="203.0.113.7", client_name=None, helo="x",
                           mail_from="bounce@prize.example", rcpts=rcpts, message_id=f"<{queue_id}@prize.example>",
                           subject=subject, from_header=sender, action="quarantine", score=13.0, required=5.0,
                           symbols=(), headers=f"Subject: {subject}\r\n", size=100, outcome="quarantined")
    raw = (f"From: {sender}\r\nSubject: {subject}\r\n\r\n{SECRET}\r\nhttp://prize.example/claim\r\n"
           f"Content-Disposition: attachment; filename=invoice-{SECRET}.exe\r\n").encode()
    return QuarantineEntry(record, raw)


def config(tmp_path, extra: str = ""):
    return from_text(f'[server]\nhostname = "mx.test.example"\n\n[quarantine]\ndigest = true\n{extra}',
                     base_dir=tmp_path)


def bodies(items) -> dict[str, email.message.EmailMessage]:
    return {i.rcpts[0]: email.message_from_bytes(i.raw, policy=email.policy.default) for i in items}


def test_each_recipient_gets_the_list_of_what_was_held_for_them_and_nothing_of_its_content(tmp_path):
    cfg = config(tmp_path)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(held("Q1", YESTERDAY + 3600, ("an@test.example", "binh@test.example"),
                                        "You won! Claim at http://prize.example/claim"))
            await store.quarantine(held("Q2", YESTERDAY + 7200, ("An@test.example",), "Cheap pills www.pills.example"))
            await store.quarantine(held("Q0", YESTERDAY - 60, ("an@test.example",), "the day before"))
            await store.quarantine(held("Q3", YESTERDAY + DAY + 60, ("an@test.example",), "today, tomorrow's digest"))
            assert day_to_send(NOW) == YESTERDAY
            assert await send_digests(store, cfg, day_to_send(NOW), NOW) == 2
            return await store.due(NOW + 1)

    items = run(go())
    assert sorted(i.rcpts[0] for i in items) == ["an@test.example", "binh@test.example"]
    assert all(i.sender == "" and i.purpose == "quarantine-digest" for i in items)  # null sender: no bounce back
    mails = bodies(items)
    an = mails["an@test.example"]
    text = an.get_content()
    assert an["From"] == "postmaster@mx.test.example" and an["To"] == "an@test.example"
    assert an["Auto-Submitted"] == "auto-generated" and "2026-12-01" in an["Subject"]
    assert "Id: Q1" in text and "Id: Q2" in text and "Q0" not in text and "Q3" not in text
    assert text.index("Id: Q1") < text.index("Id: Q2")  # in the order they were held
    assert "From: Prize <win@prize.example>  (envelope: bounce@prize.example)" in text
    assert "Subject: You won! Claim at hxxp://prize.example/claim" in text  # defanged: not clickable
    assert "Subject: Cheap pills www[.]pills.example" in text
    assert "2026-12-01 01:00 UTC" in text
    assert "reply to this message (it goes to postmaster@mx.test.example) or ask your admin" in text
    assert "deleted after 30 days" in text
    for mail in mails.values():
        raw = mail.as_string()
        assert SECRET not in raw and "http://" not in raw and "https://" not in raw
    assert "Id: Q1" in mails["binh@test.example"].get_content()
    assert "Q2" not in mails["binh@test.example"].get_content()


def test_a_day_is_sent_once_whatever_the_passes_and_not_at_all_when_off(tmp_path):
    cfg = config(tmp_path)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(held("Q1", YESTERDAY + 3600, ("an@test.example",), "prize"))
            off = replace(cfg, quarantine=replace(cfg.quarantine, digest=False))
            assert await send_digests(store, off, YESTERDAY, NOW) == 0 and await store.outbox() == []
            assert await send_digests(store, cfg, YESTERDAY, NOW) == 1
            # A restart, or a second process sharing the store, passes over the same day again.
            assert await send_digests(store, cfg, YESTERDAY, NOW + 3600) == 0
            return await store.outbox()

    assert len(run(go())) == 1


def test_digests_go_only_to_the_domains_named(tmp_path):
    cfg = config(tmp_path, 'digest_domains = ["test.example"]\ndigest_from = "help@test.example"\n')

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(held("Q1", YESTERDAY + 3600, ("an@mail.test.example", "them@outside.example"), "x"))
            await send_digests(store, cfg, YESTERDAY, NOW)
            return await store.due(NOW + 1)

    items = run(go())
    assert [i.rcpts for i in items] == [("an@mail.test.example",)]
    assert bodies(items)["an@mail.test.example"]["From"] == "help@test.example"


def test_digest_settings_are_validated():
    import pytest

    from mailguard.config import ConfigError

    with pytest.raises(ConfigError, match=r"m.toml:3: \[quarantine\] digest_from: 'nobody' is not an address"):
        from_text('[quarantine]\ndigest = true\ndigest_from = "nobody"\n', "m.toml")


def run(coro):
    return asyncio.run(coro)
