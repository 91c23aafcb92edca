# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``person_result`` action: one host's part of an ``onboard`` or ``offboard`` run, as that host's own result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("run",))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        name = self._task.args.get("run")
        host = task_vars.get("inventory_hostname")
        if not name:
            return dict(result, failed=True, msg="run is required: the name of the variable the onboard or offboard task registered.")
        run = task_vars.get(name)
        if not isinstance(run, dict):
            return dict(result, failed=True, msg="%s is not set: the onboard or offboard task must run (and register it) before this one." % name)
        entry = (run.get("people") or {}).get(host)
        if entry is None:
            why = run.get("msg") if run.get("failed") else "%s was not part of that run's play batch" % host
            return dict(result, failed=True, msg="%s: the run did not reach this person: %s" % (host, why))
        result.update(changed=bool(entry.get("changed")), msg=entry.get("outcome"), upn=entry.get("upn"), steps=entry.get("steps") or [])
        facts = {}
        if run.get("result_fact"):
            facts[run["result_fact"]] = entry.get("fact")
        password = (run.get("passwords") or {}).get(host)
        if password and run.get("password_fact"):
            # Handed to the person's later no_log tasks; the output of this result is hidden, so its outcome is shown here.
            facts[run["password_fact"]] = password
            result["_ansible_no_log"] = True
            display.display("%s: %s (the password is in %s)" % (host, entry.get("outcome"), run["password_fact"]))
        if facts and not entry.get("failed"):  # a failed host shows its sentence and steps, not the whole fact again
            result["ansible_facts"] = facts
        if entry.get("diff") and self._task.diff:
            result["diff"] = entry["diff"]
        if entry.get("failed"):
            result["failed"] = True
        return result
