"""DKIM (RFC 6376): every DKIM-Signature of a message verified with dkimpy, off the event loop.

Three steps: the message is parsed and the signatures' tags checked in a worker thread; the keys
are fetched through the shared resolver (dkim_keys); dkimpy verifies the signatures one after
another in a worker thread, reading only the fetched keys. The outcome of each signature:

- permerror: unusable tags, no key published, a malformed, revoked or unsuitable key (k=, h=),
  a key too small, input dkimpy would take unbounded time over (the caps in dkim_keys), or
  anything else dkimpy raises;
- temperror: DNS could not give the key now, or the deadline came first;
- fail: the body hash differs, or the signature over the headers does not verify;
- pass.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError, Relaxed
from dkim.util import InvalidTagValueList, parse_tag_value

from mailguard.auth.dkim_keys import (MAX_DKIM_SIGNATURES, MAX_RELAXED_BODY_COST, KeyRecord, KeyStatus,
                                      PrefetchedKeys, SignedHeader, dkimpy_message, dkimpy_text, in_thread,
                                      lenient_headers, prefetch_keys, printable, relaxed_body_cost, signed_headers)
from mailguard.auth.results import DkimSignature
from mailguard.dnsresolver import Resolver

log = logging.getLogger("mailguard.auth.dkim")

# RFC 8301 §3.2: signatures with RSA keys under 1024 bits are not valid (a 512-bit key is
# factored in hours on rented machines, so such a "pass" would be forgeable): permerror.
MIN_RSA_BITS = 1024

@dataclass(frozen=True)
class _Signature:
    header: SignedHeader
    decided: DkimSignature | None  # the outcome when known without the key (bad tags)


def describe(header: SignedHeader, result: str, reason: str = "", key_bits: int = 0) -> DkimSignature:
    return DkimSignature(
        result=result, domain=header.tag(b"d"), selector=header.tag(b"s"),
        algorithm=header.tag(b"a").lower(), identity=header.tag(b"i"),
        b_prefix="".join(header.tag(b"b").split())[:8],
        reason=printable(reason), key_bits=key_bits)


async def verify_dkim(raw: bytes, resolver: Resolver, executor: Executor, deadline: float) -> list[DkimSignature]:
    """One DkimSignature per DKIM-Signature field (at most MAX_DKIM_SIGNATURES), top first;
    empty without any. Returns by `deadline` (time.monotonic()); never raises."""
    try:
        return await _verify(raw, resolver, executor, deadline)
    except Exception as exc:  # a bug of ours must not cost the message its other checks
        log.exception("DKIM verification failed")
        return [DkimSignature("permerror", "", "", "", reason=f"internal error: {type(exc).__name__}")]


async def _verify(raw: bytes, resolver: Resolver, executor: Executor, deadline: float) -> list[DkimSignature]:
    try:
        verifier, signatures = await in_thread(executor, deadline, _find, raw)
    except TimeoutError:
        # Still name each signature (a linear scan of the header block): DMARC must see that an
        # aligned signature could not be checked (temperror), not that there was none.
        headers = signed_headers(lenient_headers(raw), b"dkim-signature", MAX_DKIM_SIGNATURES)
        return [describe(h, "temperror", "time ran out") for h in headers]
    if not signatures:
        return []
    keys = PrefetchedKeys(await prefetch_keys(
        resolver, (s.header.key_name for s in signatures if s.decided is None), deadline))
    done: list[DkimSignature] = []  # appended to by the worker thread as it goes
    stop = threading.Event()
    try:
        await in_thread(executor, deadline, _verify_all, verifier, signatures, keys, deadline, stop, done)
    except TimeoutError:
        stop.set()  # a running thread cannot be interrupted; it stops before the next signature
    finished = list(done)
    return finished + [describe(s.header, "temperror", "time ran out") for s in signatures[len(finished):]]


def _find(raw: bytes) -> tuple[dkim.DKIM | None, list[_Signature]]:
    """The verifier over the parsed message, and its signatures (in a worker thread)."""
    verifier, problem = dkimpy_message(raw, functools.partial(dkim.DKIM, minkey=MIN_RSA_BITS))
    if verifier is None:
        headers = signed_headers(lenient_headers(raw), b"dkim-signature", MAX_DKIM_SIGNATURES)
        return None, [_Signature(h, describe(h, "permerror", problem)) for h in headers]
    headers = signed_headers(verifier.headers, b"dkim-signature", MAX_DKIM_SIGNATURES)
    costly = bool(headers) and relaxed_body_cost(verifier.body) > MAX_RELAXED_BODY_COST
    return verifier, [_Signature(h, _check_tags(h, costly)) for h in headers]


def _check_tags(header: SignedHeader, costly_relaxed_body: bool) -> DkimSignature | None:
    """permerror for a signature whose tags are unusable (RFC 6376 §6.1.1) or that we refuse to
    verify, else None."""
    if header.error:
        return describe(header, "permerror", header.error)
    if costly_relaxed_body and _relaxed_body(header):
        return describe(header, "permerror", "body too costly to canonicalize (long runs of blanks)")
    try:
        dkim.validate_signature_fields(dict(header.tags))
    except dkim.ValidationError as exc:
        return describe(header, "permerror", dkimpy_text(exc))
    except Exception as exc:  # dkimpy trips over some values itself (IndexError on i=d=)
        return describe(header, "permerror", f"invalid tags: {type(exc).__name__}")
    if header.key_name is None:
        return describe(header, "permerror", "s= or d= unusable")
    return None


def _relaxed_body(header: SignedHeader) -> bool:
    try:
        return CanonicalizationPolicy.from_c_value(header.tags.get(b"c")).body_algorithm is Relaxed
    except InvalidCanonicalizationPolicyError:
        return False  # dkimpy says why when it verifies


def _verify_all(verifier: dkim.DKIM, signatures: list[_Signature], keys: PrefetchedKeys, deadline: float,
                stop: threading.Event, out: list[DkimSignature]) -> None:
    """Appends each signature's outcome to `out` in turn (in a worker thread)."""
    for sig in signatures:
        if stop.is_set() or time.monotonic() >= deadline:
            return
        out.append(sig.decided or _verify_one(verifier, sig.header, keys))


def _verify_one(verifier: dkim.DKIM, header: SignedHeader, keys: PrefetchedKeys) -> DkimSignature:
    record = keys.records.get(header.key_name or "")
    if record is None or record.status is KeyStatus.TEMPERROR:
        return describe(header, "temperror", record.detail if record else "key not fetched")
    if record.status is KeyStatus.MISSING:
        return describe(header, "permerror", f"no key for {record.name}")
    problem, bits = _key_problem(header, record)
    if problem:
        return describe(header, "permerror", problem, bits)
    try:
        verified = verifier.verify(idx=header.index, dnsfunc=keys)
    except dkim.ValidationError as exc:
        if str(exc).startswith("body hash mismatch"):
            return describe(header, "fail", "body hash mismatch", bits)
        return describe(header, "permerror", dkimpy_text(exc), bits)
    except dkim.DKIMException as exc:  # KeyFormatError "public key too small", MessageFormatError ...
        return describe(header, "permerror", f"{type(exc).__name__}: {dkimpy_text(exc)}", bits)
    except Exception as exc:
        return describe(header, "permerror", f"{type(exc).__name__}: {dkimpy_text(exc)}", bits)
    if verified:
        return describe(header, "pass", key_bits=bits)
    return describe(header, "fail", "signature did not verify", bits)


def _key_problem(header: SignedHeader, record: KeyRecord) -> tuple[str, int]:
    """(why the published key cannot verify this signature or "", its RSA size in bits)."""
    try:
        tags = parse_tag_value(record.text)
    except InvalidTagValueList as exc:
        return f"malformed key record: {dkimpy_text(exc)}", 0
    if not b"".join(tags.get(b"p", b"x").split()):
        return "key revoked (empty p=)", 0
    try:
        _, size, ktag, _ = dkim.load_pk_from_dns(record.name.encode("utf-8"), lambda *_a, **_k: record.text)
    except Exception as exc:  # KeyFormatError, binascii.Error, ...
        return f"malformed key: {type(exc).__name__}: {dkimpy_text(exc)}", 0
    bits = size if ktag == b"rsa" else 0
    key_kind, _, hash_name = header.tags[b"a"].strip().lower().partition(b"-")
    if ktag is not None and ktag != key_kind:  # RFC 6376 §6.1.2 step 7
        return f"key type k={ktag.decode()} does not suit a={header.tag(b'a')}", bits
    allowed = [h.strip().lower() for h in tags.get(b"h", b"").split(b":") if h.strip()]
    if allowed and hash_name not in allowed:  # §6.1.2 step 6 (dkimpy does not check it)
        return f"key does not allow {hash_name.decode()} (h={tags[b'h'].decode(errors='replace')})", bits
    return "", bits
