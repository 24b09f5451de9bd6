"""`[store] url` and `backends.open`: which backend, which file; --state-dir wins over the url."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mailguard import cli
from mailguard import config as config_mod
from mailguard.config import Config, ConfigError
from mailguard.store import backends
from mailguard.store.backends import DB_NAME
from mailguard.store.records import QuarantineEntry

from test_store import record


def run(coro):
    return asyncio.run(coro)


def quarantined_ids(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [qid for (qid,) in con.execute("SELECT queue_id FROM quarantine ORDER BY queue_id")]
    finally:
        con.close()


async def quarantine_one(cfg: Config, queue_id: str) -> None:
    store = await backends.open(cfg)
    try:
        await store.quarantine(QuarantineEntry(record(queue_id), b"raw"))
    finally:
        await store.close()


def with_store(cfg: Config, **changes) -> Config:
    return cfg.replace("store", **changes)


def test_the_default_is_the_sqlite_file_in_the_state_dir(tmp_path):
    cfg = with_store(Config(), state_dir=str(tmp_path))
    assert cfg.store.url == ""
    run(quarantine_one(cfg, "DEFAULT"))
    # the file name every install before [store] url has: existing data stays where it is
    assert quarantined_ids(tmp_path / "mailguard.sqlite3") == ["DEFAULT"]
    assert DB_NAME == "mailguard.sqlite3"


def test_a_sqlite_url_names_the_file(tmp_path):
    db = tmp_path / "elsewhere" / "my store.sqlite3"
    cfg = with_store(Config(), state_dir=str(tmp_path / "state"), url="sqlite://" + str(db).replace(" ", "%20"))
    run(quarantine_one(cfg, "URL"))
    assert quarantined_ids(db) == ["URL"]
    assert not (tmp_path / "state" / DB_NAME).exists()


def test_an_unknown_scheme_is_refused_at_load_naming_the_key_and_line(tmp_path):
    path = tmp_path / "mailguard.toml"
    path.write_text('[store]\nstate_dir = "state"\nurl = "redis://cache.example.org:6379/0"\n')
    with pytest.raises(ConfigError) as info:
        config_mod.load(path)
    assert str(info.value) == (f"{path}:3: [store] url: no such store backend yet: redis (known: sqlite)")


@pytest.mark.parametrize("url, problem", [
    ("/nonexistent/mg/mailguard.sqlite3", "expected a URL"),
    ("sqlite://host/nonexistent/x.sqlite3", "absolute path"),
    ("sqlite:relative.sqlite3", "absolute path"),
    ("sqlite:///nonexistent/mg/", "absolute path"),
    ("sqlite:///nonexistent/x.sqlite3?mode=ro", "absolute path"),
])
def test_urls_no_backend_takes_are_refused(url, problem):
    with pytest.raises(ConfigError, match=rf"<config>:2: \[store\] url: .*{problem}"):
        config_mod.from_text(f'[store]\nurl = "{url}"\n')


def test_open_refuses_an_unknown_scheme_in_a_config_built_in_code(tmp_path):
    cfg = with_store(Config(), state_dir=str(tmp_path), url="postgresql://db/mailguard")
    with pytest.raises(ConfigError, match=r"\[store\] url: no such store backend yet: postgresql"):
        run(backends.open(cfg))
    assert list(tmp_path.iterdir()) == []


def test_state_dir_on_the_command_line_wins_over_the_url(tmp_path):
    configured = tmp_path / "configured.sqlite3"
    path = tmp_path / "mailguard.toml"
    path.write_text(f'[store]\nurl = "sqlite://{configured}"\n')
    args = cli.build_parser().parse_args(["history", "--config", str(path), "--state-dir", str(tmp_path / "cli")])
    cfg = cli.load_config(args)
    run(quarantine_one(cfg, "CLI"))
    assert quarantined_ids(tmp_path / "cli" / DB_NAME) == ["CLI"]
    assert not configured.exists()
    # and without --state-dir the url is used
    run(quarantine_one(cli.load_config(cli.build_parser().parse_args(["history", "--config", str(path)])), "CFG"))
    assert quarantined_ids(configured) == ["CFG"]


def test_quarantine_and_history_commands_use_the_configured_store(tmp_path, capsys):
    db = tmp_path / "box.sqlite3"
    path = tmp_path / "mailguard.toml"
    path.write_text(f'[store]\nstate_dir = "state"\nurl = "sqlite://{db}"\n')
    run(quarantine_one(config_mod.load(path), "LISTED"))
    assert cli.main(["quarantine", "list", "--config", str(path)]) == 0
    assert capsys.readouterr().out.startswith("LISTED ")
    assert cli.main(["history", "--config", str(path)]) == 0
    assert not (tmp_path / "state" / DB_NAME).exists()
