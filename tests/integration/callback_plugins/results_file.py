# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: results_file
type: aggregate
short_description: Write every task result to a JSON file, for the integration tests
description:
  - Records each task result per host, the recap and the C(set_stats) data, in the file named by E(RESULTS_FILE).
  - Used by the collection's integration tests; the normal screen output is left as it is.
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "results_file"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []

    def _record(self, result, status):
        data = self._clean_results(dict(result._result), result._task.action) or result._result
        self.results.append({"task": result._task.get_name(), "host": result._host.get_name(), "action": result._task.action,
                             "status": status, "result": json.loads(json.dumps(data, default=str))})

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        path = os.environ.get("RESULTS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"tasks": self.results, "stats": summary, "custom": json.loads(json.dumps(getattr(stats, "custom", {}), default=str))},
                          handle, indent=1)
