#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: offboard
short_description: Offboard every leaver of the play in one task (the engine of the offboard_user role)
version_added: 0.1.0
description:
  - Runs the leaver runbook for every host of the play batch at once, each host being one person, in the order that keeps
    mail safe - sign-in blocked, password scrambled, sessions revoked, authentication methods and mobile devices removed,
    inbox rules forwarding outside the tenant disabled, Practice Protect roles removed (and a federated leaver's Practice
    Protect account disabled), the automatic reply set, mailbox converted to shared and confirmed shared, only then
    licences removed, forwarding, full access, hidden from address lists, optional soft delete, outbound sync for
    federated leavers.
  - Reads each host's role variables (C(offboard_upn), C(offboard_deployment), C(offboard_*)) with the precedence Ansible gives
    them on that host, and refuses a misspelled C(offboard_*) variable with the closest known name.
  - A step that fails for some people, or as a whole, fails only them and only the steps that depend on it; each person's
    outcome reaches their host through M(practiceprotect.m365.person_result).
  - Takes the connection options of both services, as the tasks of the groups C(group/practiceprotect.m365.m365) and
    C(group/practiceprotect.m365.practice_protect) do, and hands them to each module it runs.
  - An action plugin - it runs on the controller, and runs the collection's modules.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.practice_protect_auth.CONNECTION
  - practiceprotect.m365.attributes
attributes:
  check_mode:
    details: Every step is planned with its module's check mode; a plan says what would be converted or removed, never that it was.
  diff_mode:
    details: Each person's before and after reach their host through M(practiceprotect.m365.person_result).
options: {}
notes:
  - The role variables and their defaults are documented by the role, C(ansible-doc -t role practiceprotect.m365.offboard_user).
seealso:
  - module: practiceprotect.m365.person_result
  - module: practiceprotect.m365.onboard
"""

EXAMPLES = r"""
# What roles/offboard_user/tasks/main.yml does; the role is the usual way to run it.
- name: Offboard everyone of the play
  practiceprotect.m365.offboard:
  register: offboard_user_run
  run_once: true

- name: Report the leaver
  practiceprotect.m365.person_result:
    run: offboard_user_run
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
people:
  description:
    - Each host's person - C(upn), C(deployment), C(changed), C(failed), C(failed_step), C(outcome), C(steps), C(fact) (the
      C(offboard_result) fact) and C(diff).
  returned: always
  type: dict
summary:
  description: How many people the run had, changed, left as they were, and failed (and at which step).
  returned: always
  type: dict
report:
  description: Paths of the Markdown and JSON run reports on the controller (null when they could not be written).
  returned: always
  type: dict
modules_run:
  description: How many module runs the whole run took.
  returned: always
  type: int
module_runs:
  description:
    - Each module run of the whole run, in order, with its wall time, to see where a run's time goes (the benchmark reads it).
  returned: always
  type: list
  elements: dict
  sample: [{module: m365_user, check: true, seconds: 1.12}, {module: m365_user, check: false, seconds: 2.4}]
  contains:
    module:
      description: The module's short name.
      type: str
    check:
      description: Whether it ran in check mode (the engine's checks and verification).
      type: bool
    seconds:
      description: Wall time of the module run, Ansible's start-up of the module included.
      type: float
"""
