#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_address_info
short_description: Who holds these e-mail addresses in Microsoft 365, and are their domains accepted
version_added: 0.1.0
description:
  - For each address, whether its domain is an accepted domain of the Exchange Online organisation, and which recipients
    hold it now - users (as sign-in name, mail or proxy address, unlicensed users included) and groups (Microsoft 365
    groups, distribution lists and mail-enabled security groups, as mail or proxy address).
  - Checks addresses before they are given to anyone, so that an address on a domain the tenant does not accept, or one
    another recipient holds, is found before any account is created. The onboarding engine uses it for every joiner's
    addresses at once.
  - Reads only. Addresses are looked up four to a query per collection, or for many addresses with one paged list of the
    directory's users and groups.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes.INFO_MODULE
options:
  addresses:
    description: The SMTP addresses to look up (bare, or with an C(smtp:) prefix).
    type: list
    elements: str
    required: true
notes:
  - Permissions - the Microsoft Graph application permissions C(User.Read.All) and C(GroupMember.Read.All) (or
    C(Group.Read.All)), and for the accepted domains C(Exchange.ManageAsApp) with the Exchange Administrator directory role.
    See docs/permissions.md.
  - Mail contacts are not read; Exchange still refuses an address a contact holds when it is given.
seealso:
  - module: practiceprotect.m365.m365_alias
"""

EXAMPLES = r"""
- name: Can these addresses be given to a joiner?
  practiceprotect.m365.m365_address_info:
    addresses: [jane@northwindacct.com, j.citizen@northwindacct.com]
  register: found

- name: Show who holds them
  ansible.builtin.debug:
    msg: "{{ found.addresses }}"
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
accepted_domains:
  description: The accepted domains of the Exchange Online organisation (lower case).
  returned: always
  type: list
  elements: str
  sample: [northwindacct.com, northwindacct.onmicrosoft.com]
addresses:
  description:
    - By lower-case address - C(domain), C(accepted) (whether the domain is accepted) and C(holders), each holder with its
      C(id), C(userPrincipalName) (a group's mail), C(displayName) and C(kind) (C(user) or C(group)).
  returned: always
  type: dict
  sample:
    jane@northwindacct.com: {domain: northwindacct.com, accepted: true, holders: []}
    tax@northwindacct.com:
      domain: northwindacct.com
      accepted: true
      holders: [{id: 6f1c0d2e-8b7a-4c3d-9e2f-1a0b9c8d7e6f, userPrincipalName: tax@northwindacct.com, displayName: Tax Team, kind: group}]
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
replication_waits:
  description: How many times the task waited for directory replication.
  returned: always
  type: int
exchange_requests:
  description: How many requests the task sent to Exchange Online.
  returned: always
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses, _exchange
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

SPEC = dict(addresses=dict(type="list", elements="str", required=True))


def main():
    Module(SPEC, services=("graph", "exchange"), supports_check_mode=True).run(plan)


def plan(m, p):
    """Read who holds the addresses; nothing to apply."""
    wanted = []
    for index, value in enumerate(p["addresses"]):
        address = _addresses.bare(value, "addresses[%d]" % index).lower()
        if address not in wanted:
            wanted.append(address)
    accepted = sorted(set(d.lower() for d in m.exchange.accepted_domains() if d))
    holders = _exchange.ExchangeService(m.graph, m.exchange, with_groups=True).holders(wanted) if wanted else {}
    found = {}
    for address in wanted:
        domain = _addresses.domain_of(address)
        found[address] = {"domain": domain, "accepted": domain in accepted, "holders": holders.get(address, [])}
    return dict(changed=False, accepted_domains=accepted, addresses=found), None


if __name__ == "__main__":
    main()
