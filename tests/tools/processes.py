# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processes the tests start, found and ended as a whole.

A process group is not enough to end an ``ansible-playbook`` run: ansible-core's workers move into sessions of
their own, so ``os.killpg`` on the playbook's group misses them and they live on, orphaned. Two tools instead:

- ``kill_tree(pid)`` stops the process and everything it started (found through parent links, whatever their
  session), repeating until the tree stops growing, then kills them all and waits until they are gone.
- ``marked(name, value)`` finds every process whose environment holds ``name=value``. A run started with a marker
  in its environment passes it to everything it starts, so the marker finds them even after they were orphaned.
  ``make test`` marks itself this way, and ``python -m tests.tools.processes --leftovers`` (its last step) fails
  when any process of the run is still there, naming them, and ends them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import signal
import sys
import time

import psutil

TEST_RUN_VARIABLE = "PPM365_TEST_RUN"


def _alive(process):
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_tree(pid, timeout=30):
    """SIGKILL ``pid`` and every process it started. The tree is frozen first (SIGSTOP, repeated until no new
    descendant appears), so nothing forks past the kill. Returns (killed, survivors): psutil.Process lists;
    survivors are those still alive ``timeout`` seconds after the kill (zombies count as gone)."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return [], []
    tree = {}
    frontier = [root]
    while frontier:
        for process in frontier:
            try:
                process.send_signal(signal.SIGSTOP)
            except psutil.NoSuchProcess:
                pass
            tree[process.pid] = process
        frontier = []
        for process in list(tree.values()):
            try:
                children = process.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            frontier += [child for child in children if child.pid not in tree]
    for process in tree.values():
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    killed = list(tree.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        survivors = [process for process in killed if _alive(process)]
        if not survivors:
            return killed, []
        time.sleep(0.05)
    return killed, [process for process in killed if _alive(process)]


def marked(name, value, exclude=()):
    """Living processes whose environment holds ``name=value``, except the pids in ``exclude``."""
    found = []
    for process in psutil.process_iter():
        if process.pid in exclude:
            continue
        try:
            if process.environ().get(name) == value and _alive(process):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def describe(process):
    try:
        return "%d %s" % (process.pid, " ".join(process.cmdline())[:200])
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "%d (gone)" % process.pid


def ancestors(pid=None):
    """The pids of this process and its ancestors."""
    pids = set()
    process = psutil.Process(pid or os.getpid())
    while process is not None:
        pids.add(process.pid)
        try:
            process = process.parent()
        except psutil.NoSuchProcess:
            break
    return pids


def leftovers(value, grace=15, out=None):
    """The processes of the run marked ``value`` still alive ``grace`` seconds from now (this process and its
    ancestors, the make that runs it, excepted). They are reported on ``out`` and killed. Returns them."""
    out = out or sys.stdout
    exclude = ancestors()
    deadline = time.monotonic() + grace
    found = marked(TEST_RUN_VARIABLE, value, exclude)
    while found and time.monotonic() < deadline:
        time.sleep(0.5)
        found = marked(TEST_RUN_VARIABLE, value, exclude)
    for process in found:
        out.write("left running: %s\n" % describe(process))
        kill_tree(process.pid, timeout=5)
    return found


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m tests.tools.processes", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--leftovers", action="store_true", required=True,
                        help="fail when a process of this test run (%s in its environment) is still running" % TEST_RUN_VARIABLE)
    parser.add_argument("--grace", type=float, default=15, help="seconds to wait for processes that are ending")
    args = parser.parse_args(argv)
    value = os.environ.get(TEST_RUN_VARIABLE)
    if not value:
        out.write("%s is not set: run this as the last step of make test\n" % TEST_RUN_VARIABLE)
        return 2
    found = leftovers(value, grace=args.grace, out=out)
    if found:
        out.write("%d process(es) of this test run outlived it (ended now); a test leaves something running\n" % len(found))
        return 1
    out.write("no process of this test run is left running\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
