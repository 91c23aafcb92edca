# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What check mode and diff mode do in this collection's modules. A module extends exactly one of these (a
    fragment listed earlier wins over a later one, so a second fragment would put its words over these); its own
    ``attributes`` add ``details`` where it differs."""

    # Modules that write (practiceprotect.m365.attributes).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    description:
      - Reads the tenant, makes the plan of calls, and returns it with the changed status it predicts, without sending
        any write.
  diff_mode:
    support: full
    description:
      - Shows each object before and after the task (as planned, in check mode), without secrets.
"""

    # Modules that only read (practiceprotect.m365.attributes.INFO_MODULE).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    description:
      - Runs as usual in check mode; the module only reads, so it returns the same result.
  diff_mode:
    support: N/A
    description:
      - The module only reads and changes nothing, so there is no before and after to show.
"""
