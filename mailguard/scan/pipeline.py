"""The scan pipeline: run the registered checks concurrently, each within its budget, and decide.

A check is a plain async function over a ScanContext returning symbols. Whatever it does
(raise, hang, swallow cancellation) the pipeline returns a Verdict within its deadline: a check
that raises yields `CHECK_ERROR_<NAME>`, one out of time `CHECK_TIMEOUT_<NAME>`, both scored 0.
Budgets bound *waiting*; CPU work inside checks must be bounded by the check itself.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from mailguard.metrics import NO_METRICS, Recorder
from mailguard.scan.facts import MessageFacts
from mailguard.scan.verdict import Action, Symbol, Verdict, decide

if TYPE_CHECKING:  # config.py imports the checks, which import this module
    from mailguard.config import ActionSettings

log = logging.getLogger("mailguard.pipeline")


@dataclass
class ScanContext:
    """What a check may read: the facts, the raw bytes, and the message parsed once, lazily."""

    facts: MessageFacts
    raw: bytes
    # The running checks of this scan by name, for a check that builds on another's results.
    outputs: dict[str, asyncio.Future] = field(default_factory=dict, repr=False, compare=False)

    async def output_of(self, check: str) -> CheckOutput | None:
        """What check `check` returned in this scan (waiting for it), None when it does not run
        here or failed. The caller's own budget bounds the wait."""
        future = self.outputs.get(check)
        if future is None:
            return None
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.cancelled():
                return None
            raise
        except Exception:
            return None

    @cached_property
    def message(self):  # -> ParsedMessage; imported lazily: checks that need no parse pay nothing
        from mailguard.scan.message import ParsedMessage

        return ParsedMessage.from_bytes(self.raw)


@dataclass(frozen=True)
class CheckOutput:
    """What a check may return instead of bare symbols: symbols plus header fields to add to the
    forwarded message (the auth check's Authentication-Results)."""

    symbols: tuple[Symbol, ...] = ()
    headers: tuple[str, ...] = ()  # complete fields, "Name: value", folded with CRLF + tab
    details: object = None  # structured results for checks that build on this one (ctx.output_of)


CheckFunction = Callable[[ScanContext], Awaitable[Iterable[Symbol] | CheckOutput]]


PHASES = ("connect", "mail", "rcpt", "data")


@dataclass(frozen=True)
class Check:
    name: str  # upper-case; used in CHECK_ERROR_<NAME> / CHECK_TIMEOUT_<NAME>
    run: CheckFunction
    budget: float  # seconds
    # When its facts are ready: "connect" (client), "mail" (+ sender), "rcpt" (+ this recipient,
    # run once per RCPT), "data" (+ the message). Early checks see ctx.raw == b"".
    phase: str = "data"

    def __post_init__(self) -> None:
        if self.phase not in PHASES:  # a misspelt phase would otherwise never run
            raise ValueError(f"check {self.name}: phase {self.phase!r} is not one of {', '.join(PHASES)}")


class SymbolRules(Protocol):
    """Score overrides and composites, applied to every check's symbols (mailguard.rules)."""

    @property
    def scores(self) -> Mapping[str, float]: ...

    def finish(self, symbols: Iterable[Symbol]) -> list[Symbol]: ...


@dataclass
class Pipeline:
    checks: tuple[Check, ...]
    thresholds: ActionSettings
    deadline: float  # seconds for the whole scan
    # Score overrides over checks' defaults ([scores] of the rule files) and meta rules, applied
    # once every check is done.
    rules: SymbolRules | None = None
    policy_thresholds: Mapping[str, ActionSettings] = field(default_factory=dict)  # by policy group
    metrics: Recorder = NO_METRICS

    async def evaluate(self, ctx: ScanContext, early: Iterable[Symbol] = ()) -> Verdict:
        """The verdict of the data-phase checks together with the symbols of earlier phases."""
        started = time.monotonic()
        output = await self.run_checks(ctx, "data")
        symbols = [*early, *(self._rescored(s) for s in output.symbols)]
        if self.rules is not None:  # synchronous, after all checks: composites see every symbol
            symbols = self.rules.finish(symbols)
        thresholds = self.policy_thresholds.get(ctx.facts.policy, self.thresholds)
        verdict = decide(symbols, thresholds, ctx.facts.queue_id)
        self.metrics.scan_latency(time.monotonic() - started)
        return dataclasses.replace(verdict, headers=output.headers)

    async def run_phase(self, phase: str, facts: MessageFacts) -> list[Symbol]:
        """Symbols of the checks of an early phase (rescored), for the session to keep."""
        output = await self.run_checks(ScanContext(facts, b""), phase)
        return [self._rescored(s) for s in output.symbols]

    def has_phase(self, phase: str) -> bool:
        return any(c.phase == phase for c in self.checks)

    def early_reject(self, symbols: Iterable[Symbol]) -> Verdict | None:
        """A verdict when early symbols already force `reject` (answered at RCPT), else None."""
        verdict = decide(list(symbols), self.thresholds)
        return verdict if verdict.forced is Action.REJECT else None

    def amended(self, verdict: Verdict, policy: str, extra: Iterable[Symbol]) -> Verdict:
        """`verdict` with symbols the flow adds after the checks (the ad ledger's), rescored as a
        check's would be, and decided again by the message's thresholds."""
        symbols = [*verdict.symbols, *(self._rescored(s) for s in extra)]
        thresholds = self.policy_thresholds.get(policy, self.thresholds)
        return dataclasses.replace(decide(symbols, thresholds, verdict.queue_id), headers=verdict.headers)

    def score_of(self, name: str) -> float:
        """The score a symbol emitted outside a check gets by default: the rules' [scores], else
        its spec's (mailguard symbols). 0 for a name nobody declares."""
        if self.rules is not None and name in self.rules.scores:
            return self.rules.scores[name]
        from mailguard.checks.symbols import default_score  # the specs import this module

        return default_score(name)

    def _rescored(self, sym: Symbol) -> Symbol:
        if sym.neutral:
            return sym
        if self.rules is not None and sym.name in (scores := self.rules.scores):
            return dataclasses.replace(sym, score=round(scores[sym.name] * sym.strength, 2))
        return sym

    async def run_checks(self, ctx: ScanContext, phase: str = "data") -> CheckOutput:
        started = time.monotonic()
        tasks = {asyncio.create_task(self._run_one(check, ctx, self.metrics), name=f"check-{check.name}"): check
                 for check in self.checks if check.phase == phase}
        if not tasks:
            return CheckOutput()
        ctx.outputs.update({check.name: task for task, check in tasks.items()})
        done, pending = await asyncio.wait(tasks, timeout=self.deadline)
        symbols: list[Symbol] = []
        headers: list[str] = []
        for task in sorted(done, key=lambda t: tasks[t].name):  # stable header order
            symbols.extend(task.result().symbols)
            headers.extend(task.result().headers)
        for task in pending:
            check = tasks[task]
            task.cancel()
            # A check that ignores cancellation is left behind, not awaited: the deadline holds.
            task.add_done_callback(_discard_result)
            log.warning("check %s still running at the scan deadline (%.1fs); abandoned",
                        check.name, time.monotonic() - started)
            self.metrics.check_timeout(check.name)
            symbols.append(Symbol(f"CHECK_TIMEOUT_{check.name}", 0.0,
                                  f"scan deadline {self.deadline:g}s reached"))
        return CheckOutput(tuple(symbols), tuple(headers))

    @staticmethod
    async def _run_one(check: Check, ctx: ScanContext, metrics: Recorder) -> CheckOutput:
        started = time.monotonic()
        try:
            async with asyncio.timeout(check.budget):
                result = await check.run(ctx)
            if isinstance(result, CheckOutput):
                return result
            return CheckOutput(tuple(result or ()))
        except TimeoutError:
            metrics.check_timeout(check.name)
            return CheckOutput((Symbol(f"CHECK_TIMEOUT_{check.name}", 0.0, f"budget {check.budget * 1000:g} ms"),))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a check's bug must never reach the session
            log.exception("check %s raised", check.name)
            metrics.check_error(check.name)
            return CheckOutput((Symbol(f"CHECK_ERROR_{check.name}", 0.0, type(exc).__name__),))
        finally:
            metrics.check_latency(check.name, time.monotonic() - started)


def _discard_result(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
