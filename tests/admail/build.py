#!/usr/bin/env python3
"""Writes the Vietnamese/English advertising test set (ads/*.eml, nonads/*.eml) and its manifest
expected.toml from the messages below. Written by hand for these tests (no real person's mail);
every address and domain is made up. Run from here: python3 build.py

Each message: (file, split, subject, body, options). `dev` messages are those the detector was
tuned on; `heldout` ones were looked at once, at the end (tests/unit/test_advertising_corpus.py).
The expected compliance values are what a reader sees in the message, set here by hand.
"""
from __future__ import annotations

import base64
import quopri
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOOT = {}


def strip(text: str) -> str:
    t = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in t if not unicodedata.combining(c))


def encode_subject(subject: str, how: str) -> str:
    if how == "B":
        return "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    if how == "Q":
        return "=?UTF-8?Q?" + "".join(
            c if c.isascii() and c.isalnum() else "_" if c == " " else "".join(f"={b:02X}" for b in c.encode())
            for c in subject) + "?="
    return subject


def render(m: dict) -> bytes:
    subject, body = m["subject"], m["body"]
    if m.get("nfd"):
        subject, body = unicodedata.normalize("NFD", subject), unicodedata.normalize("NFD", body)
    if m.get("plain"):
        subject, body = strip(subject), strip(body)
    frm = m.get("from", '"Shop" <news@shop.example.vn>')
    lines = [f"From: {frm}", f"To: {m.get('to', 'an.nguyen@example.vn')}",
             f"Subject: {encode_subject(subject, m.get('enc', 'B'))}",
             "Date: Tue, 12 Mar 2024 09:15:00 +0700",
             f"Message-ID: <{m['file'].replace('/', '-')}@mail.example.vn>", "MIME-Version: 1.0"]
    lines += m.get("headers", [])
    cte = m.get("cte", "base64")
    if m.get("html"):
        html = "<html><body>" + "".join(
            f"<p>{line}</p>" if not line.startswith("LINK ") else
            f'<p><a href="{line.split(" ", 2)[1]}">{line.split(" ", 2)[2]}</a></p>'
            for line in body.split("\n")) + "</body></html>"
        payload, ctype = html, "text/html"
    else:
        payload = "\n".join(line if not line.startswith("LINK ") else f"{line.split(' ', 2)[2]}: {line.split(' ', 2)[1]}"
                            for line in body.split("\n"))
        ctype = "text/plain"
    data = payload.replace("\n", "\r\n").encode()
    lines += [f'Content-Type: {ctype}; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
    if cte == "base64":
        enc = base64.encodebytes(data).decode().replace("\n", "\r\n")
    elif cte == "quoted-printable":
        enc = quopri.encodestring(data).decode().replace("\r\n", "\n").replace("\n", "\r\n")
    else:
        enc = data.decode()
    return ("\r\n".join(lines) + "\r\n\r\n" + enc).encode()


def esp(name="Mailchimp Mailer - **CIDa1b2c3d4**"):
    return [f"X-Mailer: {name}"]


def unsub(domain="shop.example.vn"):
    return [f"List-Unsubscribe: <https://{domain}/unsubscribe?u=8f3a>, <mailto:unsub@{domain}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]


def main() -> None:
    from messages import ADS, NONADS  # the message texts (they use esp() and unsub() above)

    manifest = ["# Expected values of the advertising test set, written by hand (build.py).",
                "# split: dev (tuned on) or heldout (looked at once, at the end).", ""]
    for kind, items in (("ads", ADS), ("nonads", NONADS)):
        (HERE / kind).mkdir(exist_ok=True)
        for m in items:
            path = HERE / kind / (m["file"] + ".eml")
            path.write_bytes(render(m))
            manifest.append(f'[[{"ad" if kind == "ads" else "nonad"}]]')
            manifest.append(f'file = "{kind}/{m["file"]}.eml"')
            manifest.append(f'split = "{m["split"]}"')
            if kind == "ads":
                manifest.append(f'label = "{m["label"]}"')
                manifest.append(f'label_seen = "{m.get("seen", "")}"')
                manifest.append(f'optout = "{m["optout"]}"')
                manifest.append(f'advertiser_info = {"true" if m["info"] else "false"}')
            manifest.append("")
    (HERE / "expected.toml").write_text("\n".join(manifest))


if __name__ == "__main__":
    main()
