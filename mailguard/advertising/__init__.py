"""Advertising mail under Vietnam's Decree 91/2020/ND-CP (../shared/DECREE91.md): detection and
compliance (the ADVERTISING check), the per-recipient 24-hour ledger and refusals (store ports
ledger.py and refusals.py, applied by the flow), and the X-Advertising header."""
