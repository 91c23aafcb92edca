"""Fixtures shared by the sandbox tests: one sandbox per test module (a real server in a child process)."""

import pytest

from tests.sandbox.client import start_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A running sandbox for the module; test files that need their own start options define their own ``sandbox``."""
    running = start_sandbox(str(tmp_path_factory.mktemp("sandbox")))
    yield running
    running.stop()


@pytest.fixture
def fresh_sandbox(sandbox):
    """The module's sandbox, back to its seed."""
    sandbox.reset()
    return sandbox
