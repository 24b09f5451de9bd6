"""Shared by the unit and the integration tests: the figures a run prints in its closing summary.
The helper modules beside this file (realservers, realdns, rawsmtp, ...) are importable from both
(setup.cfg: pythonpath = tests)."""
from __future__ import annotations

import pytest


_FIGURES_KEY = pytest.StashKey[list]()


@pytest.fixture
def report_figure(request):
    """report_figure("load: ...") → the line is printed in the run's closing summary (the
    figures README.md's "What we guarantee" quotes come from there)."""
    lines = request.config.stash.setdefault(_FIGURES_KEY, [])
    return lines.append


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_FIGURES_KEY, [])
    if lines:
        terminalreporter.section("figures of this run")
        for line in lines:
            terminalreporter.write_line(line)
