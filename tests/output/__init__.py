"""Tests of output (a package, so helpers import as tests.output.<module>)."""
