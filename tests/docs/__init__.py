"""Tests of docs (a package, so helpers import as tests.docs.<module>)."""
