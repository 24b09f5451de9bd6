"""The SQLite store's schema: its ordered migration steps and the DDL of the history day tables.

The schema version is `PRAGMA user_version`: version N means steps 1..N have been applied. Each
step runs in its own transaction together with the bump of user_version (see
`SqliteStore._migrate`). A released step is never edited; a change is a new step appended to
`MIGRATIONS`. A step that changes the record columns also has to ALTER every existing
`history_YYYYMMDD` table and update `history_table_ddl`, which always describes the current schema.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date

import aiosqlite

# Marks the file as a mailguard store (`PRAGMA application_id`, ASCII "MGrd"), so that pointing
# --state-dir at some other program's SQLite database is refused instead of "migrated".
APPLICATION_ID = 0x4D477264

# The columns of a MessageRecord, in the order of its fields; shared by quarantine and history.
# rcpts and symbols are JSON text.
RECORD_COLUMNS_DDL = """
    queue_id     TEXT    NOT NULL,
    time         REAL    NOT NULL,
    client_ip    TEXT,
    client_name  TEXT,
    helo         TEXT,
    mail_from    TEXT    NOT NULL,
    rcpts        TEXT    NOT NULL,
    message_id   TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    from_header  TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    score        REAL    NOT NULL,
    required     REAL    NOT NULL,
    symbols      TEXT    NOT NULL,
    headers      TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    outcome      TEXT    NOT NULL
"""

Step = Callable[[aiosqlite.Connection], Awaitable[None]]


async def _v1_initial(db: aiosqlite.Connection) -> None:
    # Deliberately a rowid table (its text primary key is then a separate index): WITHOUT ROWID
    # would keep the raw messages inside the key's b-tree and make every lookup wade through them.
    await db.execute(
        f"CREATE TABLE quarantine ({RECORD_COLUMNS_DDL}, raw BLOB NOT NULL, PRIMARY KEY (queue_id))"
    )
    await db.execute("CREATE INDEX quarantine_by_time ON quarantine (time)")
    await db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


async def _v2_quarantine_added_headers(db: aiosqlite.Connection) -> None:
    # The header fields the scan wrote (Authentication-Results): a released message carries the
    # verdicts of its arrival, which a re-check days later could no longer give (keys rotate).
    await db.execute("ALTER TABLE quarantine ADD COLUMN added_headers TEXT NOT NULL DEFAULT '[]'")


async def _v3_learned(db: aiosqlite.Connection) -> None:
    # The messages the Bayes model learnt, by digest (mailguard/bayes/digest.py): learning is
    # idempotent, a relearn with the other label moves the message, and `train --forget` finds
    # the label it was learnt with.
    await db.execute("CREATE TABLE learned (digest TEXT PRIMARY KEY, label TEXT NOT NULL "
                     "CHECK (label IN ('spam', 'ham')), learnt_at REAL NOT NULL)")


async def _v4_advertising(db: aiosqlite.Connection) -> None:
    # The advertising ledger (store/ledger.py): one row per reserved slot, pending until the
    # downstream accepted the message. The index serves reserve's count per (advertiser,
    # recipient) and ledger_entries per recipient; by_at the purge.
    await db.execute("CREATE TABLE ad_ledger (id INTEGER PRIMARY KEY, advertiser TEXT NOT NULL, "
                     "recipient TEXT NOT NULL, at REAL NOT NULL, state TEXT NOT NULL "
                     "CHECK (state IN ('pending', 'confirmed')))")
    await db.execute("CREATE INDEX ad_ledger_by_recipient ON ad_ledger (recipient, advertiser, at)")
    await db.execute("CREATE INDEX ad_ledger_by_at ON ad_ledger (at)")
    # Recipients' refusals of advertisers (store/refusals.py): one row per pair, never expiring.
    await db.execute("CREATE TABLE ad_refusals (recipient TEXT NOT NULL, advertiser TEXT NOT NULL, "
                     "at REAL NOT NULL, source TEXT NOT NULL "
                     "CHECK (source IN ('command', 'report', 'unsubscribe')), "
                     "PRIMARY KEY (recipient, advertiser))")


async def _v5_unsubscribe_addresses(db: aiosqlite.Connection) -> None:
    # The mailto: addresses of the List-Unsubscribe of ads delivered, per recipient
    # (store/refusals.py): a message the recipient later sends there refuses that advertiser.
    await db.execute("CREATE TABLE ad_unsubscribe (address TEXT NOT NULL, recipient TEXT NOT NULL, "
                     "advertiser TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (address, recipient))")
    await db.execute("CREATE INDEX ad_unsubscribe_by_at ON ad_unsubscribe (at)")


async def _v6_reports(db: aiosqlite.Connection) -> None:
    # Users' reports (store/reports.py), kept history_days; their steps in order (id is the order).
    await db.execute("CREATE TABLE reports (id TEXT PRIMARY KEY, received REAL NOT NULL, reporter TEXT NOT NULL, "
                     "kind TEXT NOT NULL CHECK (kind IN ('spam', 'ham')), sender TEXT NOT NULL, client_ip TEXT, "
                     "subject TEXT NOT NULL, message_id TEXT NOT NULL, status TEXT NOT NULL, "
                     "shape TEXT NOT NULL, raw BLOB NOT NULL)")
    await db.execute("CREATE INDEX reports_by_received ON reports (received)")
    await db.execute("CREATE INDEX reports_by_reporter ON reports (reporter, received)")
    await db.execute("CREATE TABLE report_steps (id INTEGER PRIMARY KEY, "
                     "report_id TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE, step TEXT NOT NULL)")
    await db.execute("CREATE INDEX report_steps_by_report ON report_steps (report_id, id)")
    # Repeat sources (store/sources.py): one row per (source, reporter) with the newest report's
    # time, so distinct reporters are a count; and the local block list they feed.
    await db.execute("CREATE TABLE source_reports (kind TEXT NOT NULL "
                     "CHECK (kind IN ('address', 'domain', 'ip', 'link')), value TEXT NOT NULL, "
                     "reporter TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (kind, value, reporter))")
    await db.execute("CREATE INDEX source_reports_by_at ON source_reports (at)")
    await db.execute("CREATE TABLE block_list (kind TEXT NOT NULL "
                     "CHECK (kind IN ('address', 'domain', 'ip', 'link')), value TEXT NOT NULL, "
                     "listed REAL NOT NULL, expires REAL NOT NULL, reporters INTEGER NOT NULL, "
                     "PRIMARY KEY (kind, value))")
    await db.execute("CREATE INDEX block_list_by_expires ON block_list (expires)")
    # Mail mailguard sends itself (store/outbox.py). A rowid table, as quarantine, for the raw.
    await db.execute("CREATE TABLE outbox (id TEXT PRIMARY KEY, sender TEXT NOT NULL, rcpts TEXT NOT NULL, "
                     "raw BLOB NOT NULL, created REAL NOT NULL, next_try REAL NOT NULL, "
                     "tries INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')), "
                     "last_reply TEXT NOT NULL, purpose TEXT NOT NULL, last_try REAL)")
    await db.execute("CREATE INDEX outbox_due ON outbox (state, next_try)")
    await db.execute("CREATE INDEX outbox_by_created ON outbox (created)")


MIGRATIONS: tuple[Step, ...] = (_v1_initial, _v2_quarantine_added_headers, _v3_learned, _v4_advertising,
                                _v5_unsubscribe_addresses, _v6_reports)
SCHEMA_VERSION = len(MIGRATIONS)


# --- history day partitions -------------------------------------------------------------------

_HISTORY_TABLE = re.compile(r"history_(\d{4})(\d{2})(\d{2})")
# For the sqlite_master query that enumerates the partitions; the regex above has the last word.
HISTORY_TABLE_GLOB = "history_[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"


def history_table(day: date) -> str:
    """The table of one UTC day. Table names are only ever made here, from a date."""
    if not isinstance(day, date):
        raise TypeError(f"a history table is named from a date, not {type(day).__name__}")
    return f"history_{day.year:04d}{day.month:02d}{day.day:02d}"


def history_day(table: str) -> date | None:
    """The day of a history table name, or None if the name is not one `history_table` makes."""
    m = _HISTORY_TABLE.fullmatch(table)
    if m is None:
        return None
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return day if history_table(day) == table else None


def history_table_ddl(day: date) -> tuple[str, ...]:
    table = history_table(day)
    return (
        f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY, {RECORD_COLUMNS_DDL})',
        f'CREATE INDEX IF NOT EXISTS "{table}_by_time" ON "{table}" (time)',
    )
