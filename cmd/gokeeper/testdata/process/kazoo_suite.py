"""Runs one of kazoo's own test classes (as Debian's python3-kazoo ships
them) unchanged against a gokeeper ensemble:

    kazoo_suite.py <servers> <control URL or -> <module> <class>

kazoo's test harness is pointed at the servers in argv[1] instead of
starting a ZooKeeper cluster of its own; a test that stops or runs one of
them (cluster[i].stop(), .run()) asks the Go test that started them, at
<control URL>/stop?i=N and /run?i=N. What the test files import from
pytest (raises, skip) and mock comes from the standard library. Exits 0
only if every test of the class ran and passed."""
import contextlib
import importlib
import sys
import types
import unittest
import unittest.mock
import urllib.request


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

servers, control, module, name = sys.argv[1].split(","), sys.argv[2], sys.argv[3], sys.argv[4]


class Server:
    def __init__(self, i, address):
        self.i, self.address, self.running = i, address, True

    def _ask(self, op):
        if control == "-":
            raise AssertionError("this run cannot %s servers" % op)
        urllib.request.urlopen("%s/%s?i=%d" % (control, op, self.i), timeout=120).read()

    def stop(self):
        self._ask("stop")
        self.running = False

    def run(self):
        self._ask("run")
        self.running = True


cluster = [Server(i, a) for i, a in enumerate(servers)]
harness.get_global_cluster = lambda: cluster

cls = getattr(importlib.import_module(module), name)
suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
sys.exit(0 if result.wasSuccessful() and not result.skipped and result.testsRun > 0 else 1)
