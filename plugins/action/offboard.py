# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``offboard`` action: every leaver of the play batch in one task (see plugins/plugin_utils/_batch_action.py for why an
action plugin, and plugins/plugin_utils/_leavers.py for what it decides)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _leavers
from ansible_collections.practiceprotect.m365.plugins.plugin_utils._batch_action import BatchAction, now


class ActionModule(BatchAction):
    ROLE = "offboard_user"
    PREFIX = _leavers.PREFIX
    RESERVED = _leavers.RESERVED
    RESULT_FACT = "offboard_result"
    PASSWORD_FACT = None
    TITLE = "Offboarding"
    DONE_WORD = "offboarded"

    def flow(self, people, runner, task_vars):
        _leavers.Offboarding(people, runner, check_mode=bool(self._task.check_mode), now=now).run()

    def result_fact(self, person):
        return _leavers.result_fact(person)
