"""`open(config)`: the store backend `[store] url` names, opened.

`url` empty (the default) is the SQLite file `DB_NAME` in `[store] state_dir`, where every
mailguard before `url` kept its data. `sqlite:///ABSOLUTE/PATH` names another SQLite file. Other
schemes are refused until a backend for them exists. The command line's `--state-dir` clears
`url` (mailguard/cli.py), so the store is then in that folder whatever the config says.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mailguard.config import Config, ConfigError
from mailguard.store.base import Store

DB_NAME = "mailguard.sqlite3"
KNOWN_SCHEMES = ("sqlite",)


@dataclass(frozen=True)
class StoreUrl:
    scheme: str
    path: Path  # sqlite: the database file


def parse_url(url: str, state_dir: Path) -> StoreUrl:
    """Where `[store] url` puts the store; ValueError saying what is wrong with it."""
    if not url:
        return StoreUrl("sqlite", Path(state_dir) / DB_NAME)
    parts = urlsplit(url)
    if not parts.scheme:
        raise ValueError(f"{url!r}: expected a URL such as sqlite:///var/lib/mailguard/{DB_NAME}")
    if parts.scheme not in KNOWN_SCHEMES:
        raise ValueError(f"no such store backend yet: {parts.scheme} (known: {', '.join(KNOWN_SCHEMES)})")
    path = unquote(parts.path)
    if parts.netloc or parts.query or parts.fragment or not path.startswith("/") or path.endswith("/"):
        raise ValueError(f"{url!r}: a SQLite store is a local file named by its absolute path, "
                         f"sqlite:///path/to/{DB_NAME}")
    return StoreUrl("sqlite", Path(path))


async def open(config: Config) -> Store:
    """The configured backend, opened; the caller closes it. ConfigError for a `url` no backend
    takes (config.py refuses those at load already), StoreError for a store that cannot be used."""
    try:
        where = parse_url(config.store.url, config.state_dir)
    except ValueError as exc:
        raise ConfigError(f"{config.source}: [store] url: {exc}") from None
    from mailguard.store.sqlite import SqliteStore  # the one backend; aiosqlite only when a store is used

    store = SqliteStore(where.path, config.store.history_days, config.store.quarantine_days)
    await store.open()
    return store
