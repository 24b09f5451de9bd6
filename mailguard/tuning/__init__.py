"""`mailguard tune`: symbol scores fitted on labelled mail (README, "Fitted scores")."""
