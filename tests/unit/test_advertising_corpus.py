"""The hand-written Vietnamese/English test set, tests/admail (build.py writes it; expected.toml
holds what a reader sees in each ad). The `dev` half is what the detector was tuned on: every
message must come out right. The `heldout` half (24 ads, 24 non-ads) was run once, after the
tuning, and what it measured is written here, misses included (the detector was not tuned on
them afterwards): 22/24 ads found, 0/24 non-ads flagged (target: >= 22/24 and <= 1/24); of the
22 found, 20 with every compliance value right. The four misses are strict xfails below."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mailguard.advertising.detect import detect
from mailguard.scan.message import ParsedMessage

ADMAIL = Path(__file__).resolve().parents[1] / "admail"
EXPECTED = tomllib.loads((ADMAIL / "expected.toml").read_text())


def detected(entry: dict):
    return detect(ParsedMessage.from_bytes((ADMAIL / entry["file"]).read_bytes()))


# Held-out misses, as measured on the one run (strict: a fix must move them out of here).
HELDOUT_MISSES = {
    "ads/ho-09-restaurant.eml": "missed (score 3.0): a short opening offer, only 'khai trương' and a discount",
    "ads/ho-21-school-nodiac.eml": "missed (score 3.5): text without diacritics, one promo word and a CTA",
    "ads/ho-03-car.eml": "advertiser_info found: the From name and a phone in the last line (expected: none)",
    "ads/ho-12-blackfriday-en.eml": "advertiser_info missed: '1200 Broadway, New York' is no address word",
}


def entries(kind: str, split: str) -> list[dict]:
    return [e for e in EXPECTED[kind] if e["split"] == split]


def test_the_set_is_split_and_sized():
    for kind in ("ad", "nonad"):
        assert len(entries(kind, "dev")) == 12 and len(entries(kind, "heldout")) == 24
        assert {e["file"] for e in EXPECTED[kind]} == {f"{kind}s/{p.name}" for p in (ADMAIL / f"{kind}s").glob("*.eml")}


@pytest.mark.parametrize("entry", [
    pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=HELDOUT_MISSES[e["file"]]))
    if e["file"] in HELDOUT_MISSES else e for e in EXPECTED["ad"]], ids=lambda e: e["file"])
def test_each_ad_is_found_with_its_compliance(entry):
    d = detected(entry)
    assert d.is_ad, (d.score, d.evidence)
    assert (d.label.label, d.label.seen, d.footer.optout, d.footer.advertiser_info) == (
        entry["label"], entry["label_seen"], entry["optout"], entry["advertiser_info"]), d.footer.identity


@pytest.mark.parametrize("entry", EXPECTED["nonad"], ids=lambda e: e["file"])
def test_no_nonad_is_flagged(entry):
    d = detected(entry)
    assert not d.is_ad, (d.score, d.evidence)


def test_heldout_figures():
    ads = sum(detected(e).is_ad for e in entries("ad", "heldout"))
    nonads = sum(detected(e).is_ad for e in entries("nonad", "heldout"))
    assert (ads, nonads) == (22, 0)
