# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``onboard`` action: every joiner of the play batch in one task (see plugins/plugin_utils/_batch_action.py for why an
action plugin, and plugins/plugin_utils/_joiners.py for what it decides)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _joiners
from ansible_collections.practiceprotect.m365.plugins.plugin_utils._batch_action import COLLECTION_ROOT, BatchAction

MAIL_TEMPLATE = os.path.join(COLLECTION_ROOT, "roles", "onboard_user", "templates", "activation_mail.txt.j2")


def render_mail(person):
    """The activation mail's text (roles/onboard_user/templates/activation_mail.txt.j2, text only) for a new account."""
    import jinja2

    with open(MAIL_TEMPLATE) as handle:
        template = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False).from_string(handle.read())
    return template.render(display_name=person.spec["display_name"], upn=person.upn, password=person.password, deployment=person.deployment)


class ActionModule(BatchAction):
    ROLE = "onboard_user"
    PREFIX = _joiners.PREFIX
    RESERVED = _joiners.RESERVED
    RESULT_FACT = "onboard_result"
    PASSWORD_FACT = "onboard_password"
    TITLE = "Onboarding"
    DONE_WORD = "onboarded"

    def flow(self, people, runner, task_vars):
        _joiners.Onboarding(people, runner, check_mode=bool(self._task.check_mode), render_mail=render_mail).run()

    def result_fact(self, person):
        return _joiners.result_fact(person, bool(self._task.check_mode))
