# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Write when each task started and ended, and its results per status, for the benchmark
description:
  - Records, per task, its name, action, start and end (epoch seconds) and how many hosts were ok, changed, skipped or failed.
  - Writes them to the file named by E(BENCH_TIMINGS_FILE) when the playbook ends. Used by tests/bench; the screen output
    is left as it is.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []
        self.started = time.time()

    def _close(self):
        if self.tasks and self.tasks[-1]["end"] is None:
            self.tasks[-1]["end"] = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.tasks.append({"name": task.get_name(), "action": task.action, "start": time.time(), "end": None,
                           "run_once": bool(task.run_once), "ok": 0, "changed": 0, "skipped": 0, "failed": 0})

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _count(self, status, result=None):
        if not self.tasks:
            return
        self.tasks[-1][status] += 1
        if status == "ok" and result is not None and result._result.get("changed"):
            self.tasks[-1]["changed"] += 1
        if result is not None and result._result.get("module_runs"):
            self.tasks[-1]["module_runs"] = result._result["module_runs"]  # the engine's module runs, each timed

    def v2_runner_on_ok(self, result):
        self._count("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count("failed", result)

    def v2_runner_on_skipped(self, result):
        self._count("skipped")

    def v2_runner_on_unreachable(self, result):
        self._count("failed")

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("BENCH_TIMINGS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"started": self.started, "ended": time.time(), "tasks": self.tasks}, handle, indent=1)
