# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
"""

    ACTIONS = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Reads the tenant, plans, and reports what would change without sending any write.
  diff_mode:
    support: full
    description: Shows the object before and after, without secrets.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module only reads.
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    support: N/A
    details: This module only reads.
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
"""
