"""Issue 13 item 8: no message stalls the event loop. Every message of the generated hostile
set (tests/hostile.py) goes through every offline check: none raises, none overruns, and the
CPU each spends stays within a generous bound of its budget (3 times: a bound on growth, not a
speed test; the parse, which runs in whichever check reads the message first, counts against
the MIME check's)."""
from __future__ import annotations


import pytest

from hostile import cost, hostile_messages
from offline import FACTS, broken_symbols, offline_config, offline_pipeline
from scantools import scan_verdict

pytestmark = pytest.mark.reliability

MESSAGES = dict(hostile_messages())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return offline_pipeline(offline_config(tmp_path_factory.mktemp("hostile")))


@pytest.mark.parametrize("name", MESSAGES)
def test_a_hostile_message_costs_each_check_a_bounded_time(pipeline, name):
    raw = MESSAGES[name]
    verdict = scan_verdict(pipeline, FACTS, raw)
    names = [s.name for s in verdict.symbols]
    assert not broken_symbols(names), names
    budgets = {check.name: check.budget for check in pipeline.checks}
    spent = cost(pipeline.checks, FACTS, raw)
    over = {check: ms for check, ms in spent.checks.items() if ms > 3000 * budgets[check]}
    assert not over and spent.parse <= 3000 * budgets["MIME"], (spent, budgets)


@pytest.mark.parametrize("name", [n for n in MESSAGES if n.startswith("marks:")])
def test_runs_of_combining_marks_are_cut_and_said(pipeline, name):
    verdict = scan_verdict(pipeline, FACTS, MESSAGES[name])
    names = {s.name: s.score for s in verdict.symbols}
    if "Vietnamese" in name:  # two marks per letter: real text, untouched
        assert "MIME_COMBINING_RUN" not in names
    else:
        assert names.get("MIME_COMBINING_RUN", 0) > 0, names
