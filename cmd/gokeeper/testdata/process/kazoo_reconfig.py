"""Runs kazoo's own TestReconfig (kazoo/tests/test_client.py, as Debian's
python3-kazoo ships it) unchanged against the servers in argv[1]: kazoo's
test harness is pointed at them instead of starting a ZooKeeper cluster
of its own, and what the test file imports from pytest (raises, skip) and
mock comes from the standard library. Exits 0 only if every test ran and
passed."""
import contextlib
import sys
import types
import unittest
import unittest.mock


@contextlib.contextmanager
def raises(exc):
    try:
        yield
    except exc:
        return
    raise AssertionError("did not raise %s" % exc.__name__)


def skip(msg):
    raise unittest.SkipTest(msg)


pytest = types.ModuleType("pytest")
pytest.raises, pytest.skip = raises, skip
sys.modules["pytest"] = pytest
sys.modules["mock"] = unittest.mock

from kazoo.testing import harness  # noqa: E402


class Server:
    def __init__(self, address):
        self.address, self.running = address, True


servers = [Server(a) for a in sys.argv[1].split(",")]
harness.get_global_cluster = lambda: servers

from kazoo.tests.test_client import TestReconfig  # noqa: E402

suite = unittest.defaultTestLoader.loadTestsFromTestCase(TestReconfig)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
sys.exit(0 if result.wasSuccessful() and not result.skipped and result.testsRun > 0 else 1)
