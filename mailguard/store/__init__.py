"""State behind narrow ports, one per kind of state, each in its own module.

- `quarantine.QuarantinePort`: stopped messages with their raw bytes (durable before the 250);
- `history.HistoryPort`: one row per message, kept `[store] history_days` in day partitions;
- `learned.LearnedPort`: which messages the Bayes model learnt, and with which label;
- `ledger.LedgerPort`: advertising slots per (advertiser, recipient) over a sliding 24 hours;
- `refusals.RefusalsPort`: recipients' refusals of advertisers (durable, never expiring);
- `reports.ReportsPort`: users' spam/ham reports with their steps and raw bytes (durable, kept
  history_days);
- `sources.SourcesPort`: reports counted per source (distinct reporters) and the local block list;
- `outbox.OutboxPort`: mail mailguard sends itself, kept durably until the relay took it.

Code that keeps state types against the port it uses; `base.Store` bundles the ports with the
lifecycle of one backend, and `backends.open(config)` picks and opens that backend from
`[store] url` (the SQLite file in the state directory by default).
"""
