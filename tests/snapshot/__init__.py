"""Tests of snapshot (a package, so helpers import as tests.snapshot.<module>)."""
