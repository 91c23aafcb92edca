# -*- coding: utf-8 -*-
"""Helpers shared by the integration tests: playbooks from task lists, the docs' permission table,
and releasing a held-back sandbox delay once a module has been seen waiting for it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import re
import threading

from tests.sandbox.client import Sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def play(*tasks, hosts="localhost"):
    """A playbook (JSON is YAML) running ``tasks`` on ``hosts`` without fact gathering."""
    return json.dumps([{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": list(tasks)}], indent=1)


def playbook(name):
    """The text of playbooks/<name>."""
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return handle.read()


def last_seq(sandbox):
    """The sequence number of the sandbox's last logged request (0 for an empty log)."""
    log = sandbox.log()
    return log[-1]["seq"] if log else 0


def record_figures(path, section, figures, summarise=None):
    """Merge ``figures`` as ``section`` into the JSON table at ``path`` (a suite's figures under tests/output/reliability);
    ``summarise(table)``, when given, makes what is written from the merged sections."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as handle:
            table = json.load(handle)
    except (OSError, ValueError):
        table = {}
    table = dict((name, part) for name, part in table.items() if isinstance(part, dict) and name != "by_target")
    table[section] = figures
    with open(path, "w") as handle:
        json.dump(summarise(table) if summarise else table, handle, indent=1, sort_keys=True)


def documented_row(module):
    """The permissions cell of ``module``'s row in docs/permissions.md."""
    with open(os.path.join(ROOT, "docs", "permissions.md")) as handle:
        for line in handle:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 2 and cells[0] == "`%s`" % module:
                return cells[1]
    raise AssertionError("docs/permissions.md has no row for %s" % module)


def documented_permissions(module):
    """The Graph permissions docs/permissions.md lists for ``module``, in order."""
    return re.findall(r"`([A-Za-z.]+)`", documented_row(module))


@contextlib.contextmanager
def release_when(sandbox, condition, **knobs):
    """While the block runs, watch the request log from another thread; once ``condition(entries)`` holds, set ``knobs``.

    Exchange's delays are measured with the knob's current value, so a long delay holds a mailbox (or a conversion)
    back until the module has been seen polling for it, and setting the delay to 0 then releases it: the test proves
    the module waited without depending on timing.
    """
    watcher = Sandbox(sandbox.state_dir, sandbox.env)
    done = threading.Event()

    def watch():
        while not done.is_set():
            if condition(watcher.log()):
                watcher.configure(**knobs)
                return
            done.wait(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(10)
        watcher.http.close()
