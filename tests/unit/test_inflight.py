"""Bytes in flight: one budget for every session's message, and a message's buffer under it and
under the size limit (the SMTP session's DATA and the milter's events both read into one)."""
from __future__ import annotations

from mailguard.inflight import OVER_BUDGET, Budget, MessageBuffer
from mailguard.smtp.replies import Reply


def test_the_budget_counts_what_sessions_hold_and_calls_back_when_empty():
    emptied = []
    budget = Budget(100, on_empty=lambda: emptied.append(budget.held))
    assert budget.take(60) and budget.has_room(40) and not budget.has_room(41)
    assert not budget.take(41) and budget.held == 60  # refused: nothing counted
    assert budget.take(40) and budget.full()
    budget.give_back(40)
    assert not budget.full() and emptied == []
    budget.give_back(0)
    budget.give_back(60)
    assert budget.held == 0 and emptied == [0]


def test_a_message_over_the_budget_gives_back_what_it_held_and_keeps_nothing_more():
    budget = Budget(10)
    other = MessageBuffer(budget)
    assert other.add(b"1234") is None
    message = MessageBuffer(budget, limit=100)
    assert message.add(b"abcd") is None and budget.held == 8
    assert message.add(b"efg") is OVER_BUDGET  # 11 > 10
    assert str(OVER_BUDGET) == "452 4.3.1 Insufficient system resources, try again later"
    assert budget.held == 4 and message.raw == b"" and message.held == 0
    assert message.add(b"x") is OVER_BUDGET and budget.held == 4  # the refusal stays
    other.release()
    assert budget.held == 0


def test_size_limit_first_then_the_callers_reason_then_the_budget():
    budget = Budget(1000)
    message = MessageBuffer(budget, limit=5)
    assert message.add(b"abc") is None
    refusal = message.add(b"def")
    assert str(refusal) == "552 5.3.4 Error: message size exceeds fixed limit of 5 bytes"
    assert budget.held == 0 and message.size == 6
    too_long = MessageBuffer(budget).add(b"x" * 2000, refuse=Reply(552, "5.3.4 line too long"))
    assert too_long is not None and too_long.code == 552 and budget.held == 0


def test_contents_let_go_of_the_copy_but_keep_the_count_until_release():
    budget = Budget(100)
    message = MessageBuffer(budget)
    message.add(b"Subject: x\r\n")
    message.add(b"\r\nbody\r\n")
    assert message.contents() == b"Subject: x\r\n\r\nbody\r\n"
    assert message.raw == b"" and budget.held == 20  # still held while scanned and relayed
    message.release()
    assert budget.held == 0
