#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: person_result
short_description: One person's outcome of an onboard or offboard run, on that person's own host
version_added: 0.1.0
description:
  - Reads the result that M(practiceprotect.m365.onboard) or M(practiceprotect.m365.offboard) registered for the whole play and
    reports this host's person - C(changed) when the run changed them (or would, in check mode), failed with the
    run's sentence for them (the step, why, and what to do) when it failed them, their before and after in diff mode.
  - Sets the fact the run names (C(onboard_result) or C(offboard_result)); with C(onboard_password_delivery=return), also
    C(onboard_password) for the person's later C(no_log) tasks, and then hides this result's output.
  - So the play recap, C(--limit), job slicing and AWX's relaunch on failed hosts work per person.
  - An action plugin - it runs on the controller.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
attributes:
  check_mode:
    support: full
    description: Only reads the registered run; check mode changes nothing here.
  diff_mode:
    support: full
    description: Shows the person's before and after from the run.
options:
  run:
    description: The name of the variable the onboard or offboard task registered.
    type: str
    required: true
seealso:
  - module: practiceprotect.m365.onboard
  - module: practiceprotect.m365.offboard
"""

EXAMPLES = r"""
# What roles/onboard_user/tasks/main.yml does: one engine run for the play, then each person's outcome on their host.
- name: Onboard everyone of the play
  practiceprotect.m365.onboard:
  register: onboard_user_run
  run_once: true

- name: Report the joiner
  practiceprotect.m365.person_result:
    run: onboard_user_run
"""

RETURN = r"""
msg:
  description: The person's outcome, one sentence.
  returned: always
  type: str
  sample: "jane.citizen@northwindacct.com: onboarded"
upn:
  description: The person's user principal name.
  returned: always
  type: str
steps:
  description: What each step did (or would do) for the person.
  returned: always
  type: list
  elements: str
"""
