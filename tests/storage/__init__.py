"""Tests of storage (a package, so helpers import as tests.storage.<module>)."""
