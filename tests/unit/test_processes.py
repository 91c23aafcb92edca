# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/tools/processes.py on real processes: a tree whose grandchildren left the process group is killed whole,
and the leftover check of make test finds the processes of its run, and only those."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil

from tests.tools import processes

# A parent that starts two children in sessions of their own (as ansible-core's workers do), each with a child of its
# own, writes their pids to the file named by its argument and sleeps.
TREE = r"""
import os, subprocess, sys, time
grandchild = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
              "print(p.pid, flush=True); time.sleep(300)")
pids = []
for _ in range(2):
    child = subprocess.Popen([sys.executable, "-c", grandchild], stdout=subprocess.PIPE, start_new_session=True, universal_newlines=True)
    pids += [child.pid, int(child.stdout.readline())]
with open(sys.argv[1], "w") as out:
    out.write(" ".join(map(str, pids)))
time.sleep(300)
"""


def start_tree(tmp_path, env=None):
    pid_file = tmp_path / ("pids-%s" % uuid.uuid4().hex)
    root = subprocess.Popen([sys.executable, "-c", TREE, str(pid_file)], env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and len(pid_file.read_text().split()) == 4) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pid_file.read_text().split()) == 4, "the process tree did not start"
    return root, [int(pid) for pid in pid_file.read_text().split()]


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_killpg_misses_children_in_sessions_of_their_own_and_kill_tree_does_not(tmp_path):
    root, descendants = start_tree(tmp_path)
    try:
        assert all(os.getsid(pid) != os.getsid(root.pid) for pid in descendants[::2])
        os.killpg(root.pid, signal.SIGKILL)
        root.wait(10)
        time.sleep(0.2)
        assert all(alive(pid) for pid in descendants), "the process group took the whole tree: the test proves nothing"
    finally:
        for pid in descendants:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    root, descendants = start_tree(tmp_path)
    killed, survivors = processes.kill_tree(root.pid, timeout=10)
    assert root.wait(10) == -signal.SIGKILL
    assert survivors == []
    assert set(descendants) | {root.pid} == {process.pid for process in killed}
    assert not [pid for pid in descendants if alive(pid)]


def test_kill_tree_of_a_process_that_is_gone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    assert processes.kill_tree(process.pid) == ([], [])


def test_leftovers_are_the_processes_of_this_run_only(tmp_path, monkeypatch):
    run = uuid.uuid4().hex
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                             env=dict(os.environ, **{processes.TEST_RUN_VARIABLE: uuid.uuid4().hex}))
    try:
        root, descendants = start_tree(tmp_path, env=dict(os.environ, **{processes.TEST_RUN_VARIABLE: run}))
        monkeypatch.setenv(processes.TEST_RUN_VARIABLE, run)
        out = io.StringIO()
        assert processes.main(["--leftovers", "--grace", "0.5"], out=out) == 1
        report = out.getvalue()
        for pid in [root.pid] + descendants:
            assert "left running: %d " % pid in report
            assert not alive(pid)
        assert root.wait(10) == -signal.SIGKILL
        assert "%d " % other.pid not in report and other.poll() is None
        out = io.StringIO()
        assert processes.main(["--leftovers", "--grace", "0.5"], out=out) == 0
        assert out.getvalue() == "no process of this test run is left running\n"
    finally:
        other.kill()
        other.wait(10)


def test_a_process_that_ends_within_the_grace_period_is_no_leftover(monkeypatch):
    run = uuid.uuid4().hex
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"],
                               env=dict(os.environ, **{processes.TEST_RUN_VARIABLE: run}))
    monkeypatch.setenv(processes.TEST_RUN_VARIABLE, run)
    assert [p.pid for p in processes.marked(processes.TEST_RUN_VARIABLE, run)] == [process.pid]
    out = io.StringIO()
    assert processes.main(["--leftovers", "--grace", "20"], out=out) == 0
    process.wait(10)


def test_the_check_refuses_to_run_outside_make_test(monkeypatch):
    monkeypatch.delenv(processes.TEST_RUN_VARIABLE, raising=False)
    out = io.StringIO()
    assert processes.main(["--leftovers"], out=out) == 2
    assert processes.TEST_RUN_VARIABLE in out.getvalue()
