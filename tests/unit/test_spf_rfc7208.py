"""The RFC 7208 test suite (rfc7208-tests.yml, from pyspf's source distribution) through our SPF
check: mailguard's SpfChecker and Resolver, with a transport that answers from each scenario's
zone data instead of the network.

Zone-data semantics are the suite's (see pyspf's test/testspf.py): a name absent from the data
does not exist, except names under `error.` which time out; `TIMEOUT` for a name, or as the value
of a record type, is a timeout for that name or type; SPF (type 99) records stand in for TXT when
no TXT is listed; the recursive server follows CNAMEs.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from mailguard.auth.spf import SpfChecker
from mailguard.dnsresolver import DnsAnswer, DnsTempError, Resolver, Status

SUITE = Path(__file__).parent / "data" / "rfc7208-tests.yml"
DEFAULT_FAIL_EXPLANATION = "SPF fail - not authorized"  # pyspf's, where the suite says DEFAULT


def _records(entries: list) -> dict[str, object]:
    """A name's zone data → {rdtype: [values] | "TIMEOUT"}, plus "*ANSWERED*": the types that still
    answer when the name itself times out."""
    by_type: dict[str, object] = {}
    txt_listed = False
    for entry in entries:
        if entry == "TIMEOUT":  # every type not listed before it times out
            by_type.setdefault("*ANSWERED*", {t for t, v in by_type.items() if v})
            continue
        (rdtype, value), = entry.items()
        if value == "TIMEOUT":
            by_type[rdtype] = "TIMEOUT"
            continue
        if rdtype in ("TXT", "SPF"):
            strings = (value,) if isinstance(value, str) else tuple(value)
            if strings == ("NONE",):  # listed, so not generated from SPF, yet without a value
                txt_listed = txt_listed or rdtype == "TXT"
                continue
            value = tuple(s.encode("utf-8") for s in strings)
        elif rdtype == "MX":
            value = (int(value[0]), str(value[1]).rstrip("."))
        by_type.setdefault(rdtype, []).append(value)
    if not txt_listed and "TXT" not in by_type and isinstance(by_type.get("SPF"), list):
        by_type["TXT"] = list(by_type["SPF"])
    return by_type


class ZoneTransport:
    def __init__(self, zonedata: dict):
        self.zone = {name.lower().rstrip("."): _records(entries or []) for name, entries in zonedata.items()}

    async def query(self, name: str, rdtype: str, depth: int = 0) -> DnsAnswer:
        data = self.zone.get(name)
        if data is None:
            if name.startswith("error."):
                raise DnsTempError(f"{name}: timeout (suite)")
            return DnsAnswer(name, rdtype, Status.NXDOMAIN)
        if "*ANSWERED*" in data and rdtype not in data["*ANSWERED*"]:
            raise DnsTempError(f"{name}: timeout (suite)")
        values = data.get(rdtype)
        if values == "TIMEOUT":
            raise DnsTempError(f"{name}/{rdtype}: timeout (suite)")
        if values:
            return DnsAnswer(name, rdtype, Status.OK, tuple(values), ttl=300)
        cname = data.get("CNAME")
        if cname and rdtype != "CNAME" and cname != "TIMEOUT" and depth < 8:
            followed = await self.query(str(cname[0]).lower().rstrip("."), rdtype, depth + 1)
            return DnsAnswer(name, rdtype, followed.status, followed.records, followed.ttl)
        return DnsAnswer(name, rdtype, Status.NODATA)


def _cases():
    with SUITE.open("rb") as f:
        for scenario in yaml.safe_load_all(f):
            for test_id, test in scenario["tests"].items():
                yield pytest.param(scenario["zonedata"], test, id=test_id)


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.mark.parametrize("zonedata, test", list(_cases()))
def test_rfc7208_suite(zonedata, test, executor):
    async def run():
        resolver = Resolver(ZoneTransport(zonedata), timeout=2.0)
        checker = SpfChecker(resolver, executor)
        return await checker.check(test["host"], test.get("mailfrom", ""), test.get("helo", ""),
                                   time.monotonic() + 10)

    result = asyncio.run(run())
    expected = test["result"]
    acceptable = [expected] if isinstance(expected, str) else list(expected)
    assert result.result in acceptable, f"{test.get('description', '')} ({test.get('spec')}): {result}"
    if "explanation" in test:
        wanted = test["explanation"]
        assert result.explanation == (DEFAULT_FAIL_EXPLANATION if wanted == "DEFAULT" else wanted)
