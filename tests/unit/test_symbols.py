"""`mailguard symbols` and the check specs behind it: every symbol a check can emit is declared,
with its check, effective score (default → shipped rules → site [scores]) and description."""
from __future__ import annotations

import dataclasses
import json
import subprocess

from mailguard.checks.faults import FaultSettings
from mailguard.checks.registry import CheckServices, build_checks
from mailguard.checks.specs import SPECS
from mailguard.commands.symbols_cmd import listing
from mailguard.config import Config
from mailguard.lists.spec import ListFile, ListsSettings
from mailguard.paths import shipped_rules_dir
from offline import FACTS, offline_config, offline_pipeline
from realservers import CORPORA, VENV_BIN
from rulestools import load, write_rules
from scantools import scan_verdict


def symbols_json(tmp_path, config_text: str = "") -> dict[str, dict]:
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(config_text)
    res = subprocess.run([VENV_BIN / "mailguard", "symbols", "--json", "--config", cfg],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert all(set(row) == {"name", "check", "score", "description"} for row in rows)
    by_name = {row["name"]: row for row in rows}
    assert len(by_name) == len(rows), "a symbol listed twice"
    return by_name


def test_symbols_lists_every_check_and_the_rules_with_their_scores(tmp_path):
    listed = symbols_json(tmp_path, f'[rules]\nsite_dir = "{tmp_path / "absent"}"\n')
    assert listed["SPF_FAIL"] == {"name": "SPF_FAIL", "check": "AUTH", "score": 1.0,
                                  "description": "the SPF domain says this client may not send for it"}
    assert listed["GTUBE"]["check"] == "GTUBE" and listed["GTUBE"]["score"] == 1000.0
    assert listed["MIME_PARSE_ERROR"]["check"] == "MIME" and listed["MIME_PARSE_ERROR"]["score"] == 1.0
    assert listed["RBL_ZEN_SBL"]["check"] == "DNSBL" and listed["RBL_ZEN_SBL"]["score"] == 4.0
    import tomllib
    from pathlib import Path

    fitted = tomllib.loads((Path(__file__).resolve().parents[2] / "rules" / "90-fitted-scores.toml").read_text())
    # the shipped fitted [scores] win over the check's built-in 5.5
    assert listed["BAYES_SPAM"]["score"] == fitted["scores"]["BAYES_SPAM"] != 5.5
    assert listed["CHECK_TIMEOUT_DNSBL"]["check"] == "DNSBL"
    shipped = load([shipped_rules_dir()])
    name, loaded = next((n, r) for n, r in shipped.rules.items() if not n.startswith("__"))
    assert listed[name] == {"name": name, "check": "RULES", "score": shipped.scores[name],
                            "description": loaded.rule.description}
    assert {row["check"] for row in listed.values()} == {spec.name for spec in SPECS}


def test_site_scores_change_the_listed_score(tmp_path):
    site = write_rules(tmp_path / "site", {"local.toml": "[scores]\nSPF_FAIL = 4.5\nGTUBE = 999\n"})
    listed = symbols_json(tmp_path, f'[rules]\nsite_dir = "{site}"\n\n[[lists.file]]\nname = "vip"\n'
                                    f'path = "vip.list"\nuse = "allow"\nscore = 7\n')
    assert listed["SPF_FAIL"]["score"] == 4.5 and listed["GTUBE"]["score"] == 999.0
    assert listed["LIST_VIP"] == {"name": "LIST_VIP", "check": "LISTS", "score": -7.0,
                                  "description": "on the allow list vip"}


def test_text_listing_is_one_aligned_line_per_symbol(tmp_path):
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(f'[rules]\nsite_dir = "{tmp_path / "absent"}"\n')
    res = subprocess.run([VENV_BIN / "mailguard", "symbols", "--config", cfg, "--state-dir", tmp_path],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    spf = next(line for line in lines if line.startswith("SPF_FAIL "))
    assert spf.split(None, 3) == ["SPF_FAIL", "AUTH", "1.00", "the SPF domain says this client may not send for it"]
    column = spf.index("AUTH")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines)


def test_every_built_check_is_a_declared_stage():
    config = dataclasses.replace(Config(), faults=FaultSettings(checks=("raise", "hang")),
                                 lists=ListsSettings(file=(ListFile(name="x", path="/dev/null"),)))
    services = CheckServices.for_config(config)
    try:
        stages = {(stage.name, stage.phase): spec for spec in SPECS for stage in spec.stages}
        built = build_checks(config, services=services)
    finally:
        services.close()
    assert {c.name for c in built} >= {"GTUBE", "MIME", "LISTS_EARLY", "LISTS", "RULES", "BAYES", "AUTH",
                                       "DNSBL", "FAULT_RAISE", "FAULT_HANG"}
    assert all((c.name, c.phase) in stages for c in built), [(c.name, c.phase) for c in built]


def test_spec_modules_import_before_the_config():
    # config.py assembles Config from the specs: whichever is imported first, both must load.
    for module in ("mailguard.checks.specs", "mailguard.checks.symbols", "mailguard.lists.spec",
                   "mailguard.scan.verdict", "mailguard.rules.load", "mailguard.checks.registry"):
        code = (f"import {module}, mailguard.config as c, mailguard.rules.book as b\n"
                "assert 'auth' in c.SECTIONS and b.Config is c.Config")
        res = subprocess.run([VENV_BIN / "python", "-c", code], capture_output=True, text=True)
        assert res.returncode == 0, f"{module} first: {res.stderr}"


def test_every_symbol_emitted_on_the_corpus_is_declared(tmp_path):
    listed_ip = tmp_path / "clients.list"
    listed_ip.write_text(f"{FACTS.client.ip}\n")
    config = offline_config(tmp_path, dataclasses.replace(
        Config(), faults=FaultSettings(checks=("raise",)),
        lists=ListsSettings(file=(ListFile(name="clients", path=str(listed_ip), score=1.0),))))
    pipeline = offline_pipeline(config)
    corpus = CORPORA / "spamassassin"
    paths = [CORPORA / "samples" / "sample-spam.txt", CORPORA / "samples" / "sample-nonspam.txt"]
    for folder in ("spam_2", "easy_ham_2", "hard_ham"):
        paths += sorted(p for p in (corpus / folder).iterdir() if p.is_file())[:15]
    emitted: set[str] = set()
    for path in paths:
        verdict = scan_verdict(pipeline, FACTS, path.read_bytes())
        emitted |= {s.name for s in verdict.symbols}
    declared = {s.name for s in listing(config, pipeline.rules.current)}
    assert emitted - declared == set()
    # the sample covers each kind of declaration: a fixed symbol, a config-named one, a family
    # member, a pipeline one and a rule
    assert {"GTUBE", "LIST_CLIENTS", "CHECK_ERROR_FAULT_RAISE"} <= emitted
    assert any(n.startswith("MIME_") for n in emitted) and any(n.startswith("BAYES_") for n in emitted)
    assert emitted & set(pipeline.rules.current.rules)
