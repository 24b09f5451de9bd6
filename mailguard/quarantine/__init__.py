"""What the quarantine does for the people mail was held for (the entries themselves live in
the store: mailguard/store/quarantine.py)."""
