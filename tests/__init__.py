"""The test suite as one package: shared helpers are reached as `from tests import etcdproc`, never via sys.path."""
