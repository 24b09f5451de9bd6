"""ARC (RFC 8617): the chain of ARC sets validated with dkimpy, off the event loop.

As for DKIM (see dkim_keys), the keys every ARC-Seal and ARC-Message-Signature names are fetched
first through the shared resolver, and dkimpy's `ARC.verify` then runs in a worker thread reading
only those. A chain that fails after asking for a key DNS could not give is `temperror`: it may
have passed with the key.
"""
from __future__ import annotations

import functools
import logging
from concurrent.futures import Executor
from dataclasses import dataclass

import dkim

from mailguard.auth.dkim_keys import (MAX_ARC_SETS, MAX_RELAXED_BODY_COST, PrefetchedKeys, dkimpy_message,
                                      dkimpy_text, in_thread, lenient_headers, prefetch_keys, printable,
                                      relaxed_body_cost, signed_headers)
from mailguard.auth.results import ArcResult
from mailguard.dnsresolver import Resolver

log = logging.getLogger("mailguard.auth.arc")

MIN_RSA_BITS = 1024  # RFC 8617 §5.1: ARC keys follow RFC 8301, which forbids smaller keys
_ARC_FIELDS = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")


@dataclass(frozen=True)
class _Chain:
    """What the message's ARC headers say before any key is fetched."""

    verifier: dkim.ARC | None
    instances: int = 0  # highest i=
    sealer: str = ""  # d= of the ARC-Seal with the highest i=
    key_names: tuple[str, ...] = ()
    decided: ArcResult | None = None  # the result when known without keys


async def verify_arc(raw: bytes, resolver: Resolver, executor: Executor, deadline: float) -> ArcResult:
    """pass | fail | none, or temperror when a needed key or the time was missing; never raises."""
    try:
        return await _verify(raw, resolver, executor, deadline)
    except Exception as exc:  # a bug of ours: say "unknown" rather than judge the chain
        log.exception("ARC verification failed")
        return ArcResult("temperror", reason=f"internal error: {type(exc).__name__}")


async def _verify(raw: bytes, resolver: Resolver, executor: Executor, deadline: float) -> ArcResult:
    try:
        chain = await in_thread(executor, deadline, _find, raw)
    except TimeoutError:
        return ArcResult("temperror", reason="time ran out")
    if chain.decided is not None:
        return chain.decided
    keys = PrefetchedKeys(await prefetch_keys(resolver, chain.key_names, deadline))
    try:
        outcome = await in_thread(executor, deadline, _validate, chain.verifier, keys)
    except TimeoutError:
        return ArcResult("temperror", chain.instances, chain.sealer, "time ran out")
    if outcome == "pass":
        return ArcResult("pass", chain.instances, chain.sealer)
    missing = keys.temporary_failures()
    if missing:
        return ArcResult("temperror", chain.instances, chain.sealer, printable(missing[0].detail))
    return ArcResult("fail", chain.instances, chain.sealer, printable(outcome))


def _find(raw: bytes) -> _Chain:
    """Parse the message and its ARC headers (in a worker thread)."""
    verifier, problem = dkimpy_message(raw, functools.partial(dkim.ARC, minkey=MIN_RSA_BITS))
    if verifier is None:
        if any(name.lower() in _ARC_FIELDS for name, _ in lenient_headers(raw)):
            return _Chain(None, decided=ArcResult("fail", reason=problem))
        return _Chain(None, decided=ArcResult("none"))
    instances, _ = verifier.sorted_arc_headers()
    if instances == 0:
        return _Chain(verifier, decided=ArcResult("none"))
    seals = signed_headers(verifier.headers, b"arc-seal", MAX_ARC_SETS + 1)
    signatures = signed_headers(verifier.headers, b"arc-message-signature", MAX_ARC_SETS + 1)
    sealer = next((s.tag(b"d") for s in seals if _instance(s.tag(b"i")) == instances), "")
    if instances > MAX_ARC_SETS or len(seals) > MAX_ARC_SETS or len(signatures) > MAX_ARC_SETS:
        # RFC 8617 §4.2.1, §5.2 step 2: more than 50 sets is a failed chain, and no work is done.
        return _Chain(verifier, instances, sealer, decided=ArcResult(
            "fail", instances, sealer, f"more than {MAX_ARC_SETS} ARC sets"))
    malformed = next((h.error for h in seals + signatures if h.error), "")
    if malformed:  # also keeps what dkimpy cannot handle in reasonable time from it (dkim_keys)
        return _Chain(verifier, instances, sealer, decided=ArcResult("fail", instances, sealer, malformed))
    if relaxed_body_cost(verifier.body) > MAX_RELAXED_BODY_COST:  # ARC canonicalizes relaxed/relaxed
        return _Chain(verifier, instances, sealer, decided=ArcResult(
            "fail", instances, sealer, "body too costly to canonicalize (long runs of blanks)"))
    names = tuple(n for h in seals + signatures if (n := h.key_name))
    return _Chain(verifier, instances, sealer, names)


def _instance(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0


def _validate(verifier: dkim.ARC, keys: PrefetchedKeys) -> str:
    """"pass", or why the chain fails (in a worker thread)."""
    try:
        cv, _, comment = verifier.verify(dnsfunc=keys)
    except Exception as exc:  # dkimpy trips over some malformed sets itself (IndexError, ...)
        return f"{type(exc).__name__}: {dkimpy_text(exc)}"
    if cv == dkim.CV_Pass:
        return "pass"
    return dkimpy_text(comment or "chain did not validate")
