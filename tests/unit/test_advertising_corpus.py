"""The hand-written Vietnamese/English test set, tests/admail (build.py writes it; expected.toml
holds what a reader sees in each ad). The `dev` half is what the detector was tuned on: every
message must come out right. The `heldout` half (24 ads, 24 non-ads) is run once per design:

- first design (stop 21): 22/24 ads found, 0/24 non-ads flagged (target: >= 22/24 and <= 1/24); of
  the 22 found, 20 with every compliance value right (misses: an English street address without a
  street word; a salesperson's name and phone in the last line taken for the advertiser).
- second design, the identity block read line by line (dev-13..20 written for it first): 22/24 and
  0/24 again, and the two identity misses right; but the one run showed three regressions (ho-02,
  ho-11, ho-17), from two bugs the dev half had not exercised: Vietnamese landlines grouped 4-3-3
  or 3-4-4 were no phone, and `tang` without diacritics (`mua 2 tang 1`, buy 2 get 1) was read as
  `tầng` (floor) of an address. Both were fixed and pinned by dev-19/dev-20; with them the held-out
  half has all 22 right — a figure no longer blind for the identity values, so the unseen set of
  the issue is the one to judge them on.

The misses that remain are strict xfails below."""

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
}


def entries(kind: str, split: str) -> list[dict]:
    return [e for e in EXPECTED[kind] if e["split"] == split]


def test_the_set_is_split_and_sized():
    for kind in ("ad", "nonad"):
        assert len(entries(kind, "dev")) == (20 if kind == "ad" else 12) and len(entries(kind, "heldout")) == 24
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
