"""State: quarantine, history (and later reports, ad ledger, opt-outs) behind one narrow interface."""
