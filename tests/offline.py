"""The offline pipeline as `mailguard scan --offline` builds it: the shipped rules, the MIME
and GTUBE checks, the local lists of `config` and a small trained Bayes model in `state_dir`.
Shared by the tests that push hostile mail through every offline check at once."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from mailguard.bayes.spec import BayesSettings
from mailguard.checks.registry import CheckServices, build_pipeline
from mailguard.config import Config, StoreSettings
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Pipeline
from bayestools import saved_model

FACTS = MessageFacts(ClientFacts(ip="192.0.2.5", helo="x"), "a@sender.example", ("u@test.example",), "Q")
BROKEN = ("CHECK_ERROR_", "CHECK_TIMEOUT_")  # symbols no hostile message may cause


def offline_config(state_dir: Path, config: Config | None = None) -> Config:
    """`config` (default: the defaults) with its store in `state_dir`, where a Bayes model of
    five spam and five ham messages is saved, and Bayes scoring from that many on."""
    saved_model(state_dir / "bayes.model", 5, 5)
    return dataclasses.replace(config or Config(), store=StoreSettings(state_dir=str(state_dir)),
                               bayes=BayesSettings(min_spam=1, min_ham=1))


def offline_pipeline(config: Config) -> Pipeline:
    return build_pipeline(config, offline=True, services=CheckServices.for_config(config))


def broken_symbols(names) -> list[str]:
    return [name for name in names if name.startswith(BROKEN)]
