"""The checks: what each declares (spec.py), the one list of them (specs.py), the symbols they
declare (symbols.py), and the pipeline built from them (registry.py)."""
