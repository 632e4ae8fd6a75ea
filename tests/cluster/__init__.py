"""Tests of cluster (a package, so helpers import as tests.cluster.<module>)."""
