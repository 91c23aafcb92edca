# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  items:
    description:
      - Many objects in one task, each a dictionary of this module's own options (the connection options
        stay at task level). What an item leaves out, it takes from the task's options, so settings shared
        by everyone (licences, usage location, timeouts) are given once.
      - Every item is checked before the first call; everyone's current state is read with list queries;
        every item is planned, and only then are the plans applied. A person whose plan or calls fail is
        reported in RV(outcomes) and the others go on.
      - This is what the roles use to plan once per play and fan the outcome back to each person's host.
      - Mutually exclusive with the option that names a single object.
    type: list
    elements: dict
  fail_on_item_error:
    description:
      - With O(items), fail the task when any item failed (after the others were done). Set V(false) to
        read each item's failure from RV(outcomes) instead, as the roles do.
    type: bool
    default: true
  workers:
    description:
      - With O(items), how many plans are applied at the same time. Their Microsoft Graph calls are
        gathered into C($batch) requests of up to 20, and a throttled answer (HTTP 429) holds every worker
        for its C(Retry-After), so the task runs at the service's write limit without a storm of retries.
      - The same workers first make the reads no list query serves, one per person, all at once - a
        person's groups (M(practiceprotect.m365.m365_group_member)), authentication methods, mobile devices
        and inbox rules (M(practiceprotect.m365.m365_access)); a person whose read fails fails alone.
      - V(1) reads and applies one after another. Everyone's users and mailboxes are read with list queries
        either way.
    type: int
    default: 16
"""
