"""TOML rules (rules/README.md): scored header, body, rawbody, uri, full, envelope and eval rules,
meta composites, and score overrides for any symbol."""
