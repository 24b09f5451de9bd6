"""The daily ARF digest: what is due, what goes in, and that a day is neither skipped nor repeated."""
from __future__ import annotations

import asyncio
import email
import email.policy

import reportshapes as shapes
from mailguard.config import from_text
from mailguard.reports.digest import DIGEST_EVERY, send_digest
from mailguard.store.backends import DB_NAME
from mailguard.store.reports import ReportRecord
from mailguard.store.sqlite import SqliteStore

T0 = 1_800_000_000.0
CONFIG = ('[reports]\nspam_addresses = ["abuse@test.example"]\nlocal_domains = ["test.example"]\n'
          'forward_to = ["chongthurac@vncert.vn"]\nforward_mode = "digest"\n')


def report(n: int, at: float, kind: str = "spam") -> ReportRecord:
    original = shapes.spam_original(subject=f"prize {n}", message_id=f"<p{n}@prize.example>")
    return ReportRecord(id=f"R{n}", received=at, reporter="user@test.example", kind=kind, sender="win@prize.example",
                        client_ip=shapes.SPAMMER_IP, subject=f"prize {n}", message_id=f"<p{n}@prize.example>",
                        status="received", shape="attached",
                        raw=shapes.thunderbird_attached(original, "user@test.example", "abuse@test.example"))


def test_one_digest_a_day_with_the_spam_reports_since_the_last(tmp_path):
    config = from_text(CONFIG, base_dir=tmp_path)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert await send_digest(store, config, now=T0) is None  # nothing to report
            await store.add_report(report(1, T0 + 10))
            await store.add_report(report(2, T0 + 20))
            await store.add_report(report(3, T0 + 30, kind="ham"))
            first = await send_digest(store, config, now=T0 + 60)
            assert first is not None
            assert await send_digest(store, config, now=T0 + 120) is None  # a day has not passed
            await store.add_report(report(4, T0 + 200))
            second = await send_digest(store, config, now=T0 + 60 + DIGEST_EVERY)
            items = {i.id: i for i in await store.due(T0 + 2 * DIGEST_EVERY)}
            return items[first], items[second]

    first, second = asyncio.run(go())
    assert first.rcpts == ("chongthurac@vncert.vn",) and first.purpose == "digest"
    digest = email.message_from_bytes(first.raw, policy=email.policy.default)
    assert digest.get_content_type() == "multipart/mixed"
    attached = [p for p in digest.iter_parts() if p.get_content_type() == "message/rfc822"]
    reports = [p.get_payload()[0] for p in attached]
    assert [r.get_param("report-type") for r in reports] == ["feedback-report"] * 2  # the ham report is not in it
    assert b"prize 4" in second.raw and b"prize 1" not in second.raw  # the next day: only what came since
