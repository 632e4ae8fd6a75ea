"""Tests of cli (a package, so helpers import as tests.cli.<module>)."""
