"""Keys, DKIM signatures and ARC seals for the tests: dkimpy, openssl and opendkim as signers.

    key = rsa_key("example.com")                  # or ed25519_key(...), opendkim_key(...)
    server = start_dns([key.zone_line()])         # publishes key.record at key.name
    signed = sign(message(), key)                 # the message with a DKIM-Signature on top
    sealed = arc_seal(signed, list_key, "lists.example.net", "dkim=pass header.d=example.com")

Messages are CRLF-terminated bytes.
"""
from __future__ import annotations

import base64
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dkim
import nacl.encoding
import nacl.signing

from realdns import txt


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private: bytes  # as dkim.sign takes it: PEM for RSA, the base64 seed for ed25519
    record: str  # the TXT record to publish: "v=DKIM1; k=rsa; p=..."
    algorithm: str  # what `sign` uses by default: rsa-sha256 | ed25519-sha256

    @property
    def name(self) -> str:
        """Where the key is published (no trailing dot)."""
        return f"{self.selector}._domainkey.{self.domain}"

    def zone_line(self, record: str | None = None) -> str:
        """The zone-file line for start_dns; `record` replaces the key's own (e.g. "v=DKIM1; p=")."""
        return txt(self.name + ".", self.record if record is None else record)


def rsa_key(domain: str, selector: str = "sel", bits: int = 2048) -> DkimKey:
    private = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"],
                             capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=private,
                            capture_output=True, check=True).stdout
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    return DkimKey(domain, selector, private, record, "rsa-sha256")


def ed25519_key(domain: str, selector: str = "ed") -> DkimKey:
    signing = nacl.signing.SigningKey.generate()
    public = signing.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode()
    return DkimKey(domain, selector, signing.encode(encoder=nacl.encoding.Base64Encoder),
                   f"v=DKIM1; k=ed25519; p={public}", "ed25519-sha256")


def opendkim_key(domain: str, selector: str = "sel", hash_algorithms: str | None = None) -> DkimKey:
    """A key made by opendkim-genkey; `record` is the text of the .txt zone stub it writes
    (which says h=sha256 unless `hash_algorithms` says otherwise, e.g. "sha1:sha256")."""
    with tempfile.TemporaryDirectory() as tmp:
        args = ["opendkim-genkey", "-D", tmp, "-d", domain, "-s", selector]
        if hash_algorithms:
            args.append(f"--hash-algorithms={hash_algorithms}")
        subprocess.run(args, check=True, capture_output=True)
        private = (Path(tmp) / f"{selector}.private").read_bytes()
        stub = (Path(tmp) / f"{selector}.txt").read_text()
    record = "".join(re.findall(r'"([^"]*)"', stub))
    return DkimKey(domain, selector, private, record, "rsa-sha256")


def message(subject: str = "Hello", body: str = "Hi there.\r\nSee you.\r\n", *,
            sender: str = "alice@example.com", to: str = "bob@example.org") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <test-1@example.com>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}").encode()


def sign(msg: bytes, key: DkimKey, *, algorithm: str | None = None, include_headers: list[str] | None = None,
         canonicalize: tuple[bytes, bytes] = (b"relaxed", b"simple")) -> bytes:
    """`msg` with a DKIM-Signature (dkimpy) prepended."""
    header = dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.private,
                       signature_algorithm=(algorithm or key.algorithm).encode(), canonicalize=canonicalize,
                       include_headers=[h.encode() for h in include_headers] if include_headers else None)
    return header + msg


def opendkim_sign(msg: bytes, key: DkimKey) -> bytes:
    """`msg` signed by opendkim-testmsg (an independent implementation; it signs rsa-sha1)."""
    with tempfile.TemporaryDirectory() as tmp:
        keyfile = Path(tmp) / "key.private"
        keyfile.write_bytes(key.private)
        return subprocess.run(["opendkim-testmsg", "-C", "-d", key.domain, "-s", key.selector, "-k", str(keyfile),
                               "-t", tmp], input=msg, capture_output=True, check=True).stdout


def arc_seal(msg: bytes, key: DkimKey, srv_id: str, results: str = "dkim=pass header.d=example.com",
             include_headers: list[str] | None = None) -> bytes:
    """`msg` as forwarder `srv_id` passes it on: its Authentication-Results (`results`, what it
    saw) and a new ARC set (dkimpy's arc_sign, rsa-sha256) prepended."""
    seen = f"Authentication-Results: {srv_id}; {results}\r\n".encode() + msg
    arc_set = dkim.arc_sign(seen, key.selector.encode(), key.domain.encode(), key.private, srv_id.encode(),
                            include_headers=[h.encode() for h in include_headers] if include_headers else None)
    if not arc_set:
        raise ValueError("dkim.arc_sign made no ARC set (no Authentication-Results of srv_id?)")
    return b"".join(arc_set) + seen
