"""Tests of server (a package, so helpers import as tests.server.<module>)."""
