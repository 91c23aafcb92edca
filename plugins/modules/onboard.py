#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: onboard
short_description: Onboard every joiner of the play in one task (the engine of the onboard_user role)
version_added: 0.1.0
description:
  - Runs the whole joiner runbook (seeds 000 and 001) for every host of the play batch at once, each host being one
    person, and returns each person's outcome for the host's own result (M(practiceprotect.m365.person_result)).
  - Reads each host's role variables (C(onboard_person), C(onboard_deployment), C(onboard_*)) with the precedence Ansible
    gives them on that host, checks them against the role's argument spec, and refuses a misspelled C(onboard_*)
    variable with the closest known name.
  - Checks everything before the first write - the Microsoft 365 and Practice Protect plans, every address against the
    accepted domains, every recipient of the tenant and the other joiners, the roles, the users roles are copied from,
    the activation mail's sender. A refused joiner is left out of every write; the others go on.
  - Writes in the runbooks' order, each step one module run for everyone (M(practiceprotect.m365.m365_user),
    M(practiceprotect.m365.m365_alias), M(practiceprotect.m365.pp_user), M(practiceprotect.m365.pp_role_member),
    M(practiceprotect.m365.outbound_sync)). A new account's password is delivered right after the account is created,
    before any later step can fail. A step that fails for some people, or as a whole, fails only them and only the steps
    that depend on it.
  - Ends with a verification of everyone the run changed, a Markdown and JSON run report, and C(set_stats) data.
  - Takes the connection options of both services, as the tasks of the groups C(group/practiceprotect.m365.m365) and
    C(group/practiceprotect.m365.practice_protect) do, and hands them to each module it runs.
  - Use it with C(run_once), and C(register) its result for M(practiceprotect.m365.person_result) on each host.
  - An action plugin - it runs on the controller, and runs the collection's modules.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.practice_protect_auth.CONNECTION
  - practiceprotect.m365.attributes
attributes:
  check_mode:
    details: Every step is planned with its module's check mode; people the run would create are not there yet for the steps after it.
  diff_mode:
    details: Each person's before and after reach their host through M(practiceprotect.m365.person_result).
options: {}
notes:
  - The role variables and their defaults are documented by the role, C(ansible-doc -t role practiceprotect.m365.onboard_user).
  - The run report goes to C(onboard_report_dir) (by default C(~/.ansible/practiceprotect_m365/reports) on the controller).
seealso:
  - module: practiceprotect.m365.person_result
  - module: practiceprotect.m365.offboard
"""

EXAMPLES = r"""
# What roles/onboard_user/tasks/main.yml does; the role is the usual way to run it.
- name: Onboard everyone of the play
  practiceprotect.m365.onboard:
  register: onboard_user_run
  run_once: true

- name: Report the joiner
  practiceprotect.m365.person_result:
    run: onboard_user_run
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
people:
  description:
    - Each host's person - C(upn), C(deployment), C(changed), C(failed), C(failed_step), C(outcome) (one sentence, with what to do
      when the person failed), C(steps), C(fact) (the C(onboard_result) fact) and C(diff).
  returned: always
  type: dict
summary:
  description: How many people the run had, changed, left as they were, and failed (and at which step).
  returned: always
  type: dict
  sample: {people: 4, changed: 3, unchanged: 0, failed: 1, failed_by_step: {outbound provisioning to Microsoft 365: 1}}
report:
  description: Paths of the Markdown and JSON run reports on the controller (null when they could not be written).
  returned: always
  type: dict
  sample: {markdown: /home/awx/.ansible/practiceprotect_m365/reports/onboard-20261207T101500Z.md}
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
passwords:
  description: With C(onboard_password_delivery=return), the new accounts' passwords by host; the result is then hidden (no_log).
  returned: when a password is returned
  type: dict
"""
