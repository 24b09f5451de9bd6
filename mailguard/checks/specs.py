"""The one list of checks, in the order the pipeline starts them. Adding a check: its module
exports a `SPEC` (mailguard/checks/spec.py; README, "Adding a check"), and one line here."""
from __future__ import annotations

from mailguard.advertising import spec as advertising
from mailguard.auth import spec as auth
from mailguard.bayes import spec as bayes
from mailguard.checks import faults, gtube, mime
from mailguard.checks.spec import CheckSpec
from mailguard.dnsbl import spec as dnsbl
from mailguard.lists import spec as lists
from mailguard.reports import spec as reports
from mailguard.rules import spec as rules

SPECS: tuple[CheckSpec, ...] = (
    gtube.SPEC,
    mime.SPEC,
    lists.SPEC,
    rules.SPEC,
    bayes.SPEC,
    auth.SPEC,
    advertising.SPEC,
    reports.SPEC,
    dnsbl.SPEC,
    faults.SPEC,
)
