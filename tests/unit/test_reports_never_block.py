"""The never-block list of spam reports: the shipped file parses cleanly and covers what an
admin expects, domains cover their subdomains, IPs are covered by CIDRs, single addresses are
not covered by their domain, and the site's own local_domains are always covered."""
from __future__ import annotations

import pytest

from mailguard.config import ConfigError
from mailguard.paths import shipped_never_block
from mailguard.reports.never_block import NeverBlock


@pytest.fixture(scope="module")
def shipped() -> NeverBlock:
    return NeverBlock.load(None, ["example.vn"])


def test_the_shipped_list_has_no_bad_line(shipped):
    assert shipped.problems == ()
    assert shipped.path == str(shipped_never_block())
    assert shipped.contents.size > 100


@pytest.mark.parametrize("kind, value", [
    ("link", "bit.ly"), ("link", "t.co"), ("link", "tinyurl.com"), ("link", "shorturl.at"),
    ("domain", "gmail.com"), ("domain", "yahoo.com.vn"), ("domain", "hotmail.com"), ("domain", "gmx.de"),
    ("domain", "sendgrid.net"), ("link", "bucket.s3.amazonaws.com"), ("link", "lh3.googleusercontent.com"),
    ("link", "d111111abcdef8.cloudfront.net"), ("domain", "mcsv.net"), ("link", "docs.google.com"),
    ("domain", "moet.gov.vn"), ("link", "shopee.vn"),
    ("ip", "209.85.220.41"), ("ip", "40.92.18.5"), ("ip", "2607:f8b0:4864:20::42a"),
    # always, without a line: our own domains, and addresses never looked up in blocklists
    ("domain", "example.vn"), ("link", "www.example.vn"), ("address", "an@mail.example.vn"),
    ("ip", "127.0.0.1"), ("ip", "10.1.2.3"), ("ip", "192.168.0.9"), ("ip", "::1"), ("ip", "fd00::1"),
    ("ip", "::ffff:10.0.0.1"),
])
def test_covered(shipped, kind, value):
    assert shipped.covers(kind, value)


@pytest.mark.parametrize("kind, value", [
    ("link", "spam-shop.example"), ("domain", "spam.example.com"), ("ip", "192.0.2.7"),
    ("ip", "2001:db8::7"), ("address", "spammer@gmail.com"),  # one abusive account may be listed
    ("address", "seller@spam.example"), ("domain", "notgmail.com"), ("link", "bit.ly.spam.example"),
])
def test_not_covered(shipped, kind, value):
    assert not shipped.covers(kind, value)


def test_a_site_list_replaces_the_shipped_one(tmp_path):
    path = tmp_path / "never.txt"
    path.write_text("# ours\npartner.example   # a partner we never block\n198.51.100.0/24\n"
                    "boss@corp.example\nnot a line\n")
    nb = NeverBlock.load(str(path), ["example.vn"])
    assert nb.covers("link", "www.partner.example") and nb.covers("domain", "partner.example")
    assert nb.covers("ip", "198.51.100.77") and not nb.covers("ip", "198.51.101.1")
    assert nb.covers("address", "Boss@Corp.Example") and not nb.covers("address", "other@corp.example")
    assert not nb.covers("domain", "gmail.com")  # replaced, not added to
    assert nb.covers("domain", "example.vn")  # local domains whatever the file
    assert [p.line for p in nb.problems] == [5]  # a bad line is skipped, not fatal


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="never_block': cannot read"):
        NeverBlock.load(str(tmp_path / "absent.txt"))


def test_nothing_to_block_is_covered():
    nb = NeverBlock.from_text("")
    assert nb.covers("ip", "") and nb.covers("ip", "not-an-ip") and nb.covers("address", "no-at-sign")
    assert not nb.covers("ip", "203.0.113.9")
    with pytest.raises(ValueError):
        nb.covers("host", "x.example")
