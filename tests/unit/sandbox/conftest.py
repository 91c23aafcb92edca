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


class GraphCaller:
    """Calls Graph with one app's token: ``graph(method, path_or_url, json_body, **requests_kwargs)``."""

    def __init__(self, session, base):
        self.session = session
        self.base = base

    def __call__(self, method, path, body=None, **kwargs):
        url = path if path.startswith("https://") else self.base + path
        return self.session.request(method, url, json=body, timeout=30, **kwargs)


@pytest.fixture
def graph_call(fresh_sandbox):
    """A GraphCaller for the seeded write app, on a sandbox back to its seed."""
    session = fresh_sandbox.graph_session()
    yield GraphCaller(session, fresh_sandbox.graph_url)
    session.close()
