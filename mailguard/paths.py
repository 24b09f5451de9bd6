"""Where an installed mailguard finds what it ships: the rules/ folder (with the never-block
list of spam reports) and the example config."""
from __future__ import annotations

import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    """A source checkout's copy (editable installs, tests) first, else the installed data file."""
    source = _SOURCE_ROOT / name
    if source.exists() and (_SOURCE_ROOT / "setup.cfg").exists():
        return source
    return Path(sysconfig.get_path("data")) / "share" / "mailguard" / name


def shipped_rules_dir() -> Path:
    return _shipped("rules")


def example_config() -> Path:
    return _shipped("config.example.toml")


def shipped_never_block() -> Path:
    """The never-block list of spam reports ([reports] never_block = "" takes it)."""
    return _shipped("rules") / "never-block.txt"
