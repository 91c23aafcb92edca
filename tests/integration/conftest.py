# -*- coding: utf-8 -*-
"""Integration fixtures: one sandbox per test session, reset before each test, and a runner for
real ``ansible-playbook`` processes whose output is kept under tests/output/ for the secret scan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

import pytest

from tests.sandbox.client import start_sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(ROOT, "tests", "output", "integration")
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
# What the sandbox issued or received (secrets) and its request log, per pytest-xdist worker, for the secret scan.
SECRETS = os.path.join(ROOT, "tests", "output", "secrets")
REQUESTS = os.path.join(ROOT, "tests", "output", "requests")
_LOCAL_RUN_ID = uuid.uuid4().hex


def worker_id():
    """gw0, gw1, ... under pytest-xdist, else master."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def run_id():
    """Short id of this pytest run (shared by its workers): logs of two runs in the same tree never overwrite each other."""
    return (os.environ.get("PYTEST_XDIST_TESTRUNUID") or _LOCAL_RUN_ID)[:8]


@pytest.fixture(scope="session")
def sandbox_session():
    state_dir = tempfile.mkdtemp(prefix="m365-sandbox-")
    env = dict(os.environ)
    env["SANDBOX_SECRETS_FILE"] = os.path.join(SECRETS, "%s.jsonl" % worker_id())
    env["SANDBOX_REQUEST_LOG_FILE"] = os.path.join(REQUESTS, "%s.jsonl" % worker_id())
    sandbox = start_sandbox(state_dir, env=env)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_session):
    sandbox_session.reset()
    return sandbox_session


class PlaybookRun:
    def __init__(self, rc, stdout, results):
        self.rc = rc
        self.stdout = stdout
        self.tasks = results.get("tasks", [])
        self.stats = results.get("stats", {})
        self.custom = results.get("custom", {})

    def task(self, name, host="localhost"):
        # A role's tasks are named "<role> : <name>" by some versions of Ansible.
        found = [t for t in self.tasks if t["task"].split(" : ")[-1] == name and t["host"] == host]
        assert found, "task %r did not run on %s; output:\n%s" % (name, host, self.stdout[-3000:])
        return found[-1]

    def result(self, name, host="localhost"):
        return self.task(name, host)["result"]

    def changed(self, host="localhost"):
        return self.stats[host]["changed"]


@pytest.fixture
def run_playbook(sandbox, request, tmp_path):
    """Run a playbook (YAML text) against the sandbox; returns a PlaybookRun."""
    counter = {"n": 0}

    def run(playbook, extra_vars=None, check=False, diff=False, verbosity=0, env=None, inventory=None, limit=None, expect_rc=None):
        counter["n"] += 1
        path = tmp_path / ("play%d.yml" % counter["n"])
        path.write_text(playbook)
        results_file = tmp_path / ("results%d.json" % counter["n"])
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(path)]
        cmd += ["-i", inventory or "localhost,", "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=%s" % sys.executable]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if limit:
            cmd += ["--limit", limit]
        # Always at least -vvv: the kept output is what the secret scan reads, so it must show all a user could see.
        cmd.append("-" + "v" * max(3, verbosity))
        run_env = dict(os.environ)
        run_env.update(sandbox.env)
        run_env.update({
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
            "ANSIBLE_CALLBACKS_ENABLED": "results_file",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "RESULTS_FILE": str(results_file),
            # The playbooks keep the token caches between tasks; each test starts with its own, empty ones.
            "M365_TOKEN_CACHE_PATH": str(tmp_path / "token-cache.json"),
            "PP_TOKEN_CACHE_PATH": str(tmp_path / "pp-token-cache.json"),
        })
        for key, value in (env or {}).items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = value
        proc = subprocess.run(cmd, cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=600, check=False)
        os.makedirs(OUTPUT, exist_ok=True)
        module = os.path.splitext(os.path.basename(request.node.nodeid.split("::")[0]))[0]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", "%s.%s" % (module, request.node.nodeid.split("::")[-1]))
        with open(os.path.join(OUTPUT, "%s-%s-%s-%d.log" % (name, worker_id(), run_id(), counter["n"])), "w") as handle:
            handle.write(proc.stdout)
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
        if expect_rc is not None:
            assert proc.returncode == expect_rc, proc.stdout[-4000:]
        return PlaybookRun(proc.returncode, proc.stdout, results)

    return run


# The fault table's hooks, registered by importing them here. pylint: disable-next=unused-import
from tests.integration.fault_table import pytest_sessionstart, pytest_terminal_summary  # noqa: E402,F401
