"""Tests of client (a package, so helpers import as tests.client.<module>)."""
