#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_user_info
short_description: Look up Microsoft 365 users, or select them by group, licence, company, type and domain
version_added: 0.1.0
description:
  - Reads users from Microsoft Graph by UPN or object id, or by an OData filter, following every page.
  - Filters that need Graph's advanced query mode (C(ne), C(not), C(endswith), C($count)) get the
    C(ConsistencyLevel) header and C($count=true) automatically.
  - Selects users the way a directory sync does - members of groups (nested groups included), enabled or not, licensed
    or not, holding given licences, of a company, members or guests, on given domains - and leaves out addresses on
    C(*.onmicrosoft.com) domains. With O(include_mailbox_type) it reads each user's Exchange mailbox type and marks
    shared, room and equipment mailboxes and users without a licence as not billable.
  - "Where the filtering happens. Graph filters O(account_enabled), O(user_type) and O(assigned_licenses) when the users come
    from the user list (default query mode, cheap for Graph). The module filters O(licensed), O(company_name), O(domain)
    and O(exclude_onmicrosoft) itself: in Graph they need the advanced query mode, whose index can lag behind recent
    changes. With O(member_of) the users are the groups' members (C(transitiveMembers), one list per group) and the module
    applies every other filter to them."
  - "Two shapes of result. A lookup by O(user), or O(filter) alone, returns Graph's own objects (the properties of
    O(select), or Graph's default set) and is never filtered further. Any filter option, O(include_mailbox_type), or no
    O(user) and no O(filter) at all returns the filtered shape described under RV(users)."
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes.INFO_MODULE
options:
  user:
    description:
      - UPN or object id of one user. Mutually exclusive with O(filter) and the filter options.
      - A lookup by O(user) is never filtered (O(exclude_onmicrosoft) does not apply).
    type: str
  users:
    description:
      - UPNs or object ids of several users, read with list queries (C(in) clauses of 15, Graph's limit, or one paged list of
        the directory for 61 or more). Returns Graph's own objects for those that exist, in RV(users), and the keys that name
        nobody in RV(missing). Mutually exclusive with O(user), O(filter) and the filter options.
      - Roles and playbooks use it to read many people without writing OData.
    type: list
    elements: str
  extensions:
    description:
      - With O(users), the names of open extensions to return with each user, under C(extensions) (name -> properties).
        The users are then read with C($expand=extensions), which Graph answers in pages of at most 100 users.
    type: list
    elements: str
  filter:
    description:
      - OData C($filter) expression, for example C(department eq 'Tax').
      - Combined (C(and)) with the filter options when both are given.
    type: str
  select:
    description:
      - Graph properties to return. Graph returns a default set when left out; properties such as
        C(accountEnabled), C(usageLocation), C(assignedLicenses) and C(proxyAddresses) must be selected.
      - In the filtered shape these are added to the properties every user carries.
    type: list
    elements: str
  advanced_query:
    description:
      - Send C(ConsistencyLevel=eventual) and C($count=true). Left out, it is decided from the filter.
    type: bool
  max_items:
    description: Stop after this many users (in the filtered shape, counted after filtering).
    type: int
  member_of:
    description:
      - Keep users who are members of any of these groups (display names or object ids), directly or through nested groups.
      - A name that matches no group fails the task before anything else is read, so that a misspelt group never reads
        as an empty one; a name several groups share fails too (give the object id).
    type: list
    elements: str
  account_enabled:
    description: Keep only users whose sign-in is allowed (V(true)) or blocked (V(false)).
    type: bool
  licensed:
    description: Keep only users holding at least one licence (V(true)) or none (V(false)).
    type: bool
  assigned_licenses:
    description:
      - Keep users holding any of these licences (SKU part numbers such as C(O365_BUSINESS_PREMIUM), or skuIds).
      - A licence the tenant does not subscribe to fails the task, naming the SKUs on offer.
    type: list
    elements: str
  company_name:
    description: Keep users whose C(companyName) is this (exact, not case-sensitive).
    type: str
  user_type:
    description: Keep members of the organisation or guests only.
    type: str
    choices: [Member, Guest]
  domain:
    description: Keep users whose UPN is on one of these domains.
    type: list
    elements: str
  exclude_onmicrosoft:
    description:
      - Leave out users whose UPN is on a C(*.onmicrosoft.com) domain (service and admin accounts, as a sync would), and list
        them in RV(skipped_users) with the reason C(onmicrosoft).
      - Applies to the filtered shape only, not to a lookup by O(user) nor to O(filter) alone.
    type: bool
    default: true
  include_mailbox_type:
    description:
      - Read every mailbox's type from Exchange Online (one C(Get-Mailbox) list for all users, not one call per user) and add
        C(mailbox_type) and C(billable) to each user.
      - Needs the Exchange Online permission and role described in the notes.
    type: bool
    default: false
notes:
  - Permissions - the Microsoft Graph application permissions C(User.Read.All) (users) and C(Organization.Read.All) (licence
    names, in the filtered shape); C(GroupMember.Read.All) with O(member_of). With O(include_mailbox_type), also the
    application permission C(Exchange.ManageAsApp) of Office 365 Exchange Online and the Exchange Administrator directory
    role for the application. See docs/permissions.md.
  - C(billable) is false for shared, room and equipment mailboxes and for users holding no licence, true otherwise.
  - Group members come from Graph's advanced query mode (C(transitiveMembers) cast to users needs it), which can lag a
    little behind membership changes made moments before.
seealso:
  - module: practiceprotect.m365.m365_user
  - module: practiceprotect.m365.pp_role_member
"""

EXAMPLES = r"""
- name: One user
  practiceprotect.m365.m365_user_info:
    user: jane.citizen@northwindacct.com
    select: [id, userPrincipalName, accountEnabled, assignedLicenses, usageLocation]
  register: jane

- name: Several users at once, without writing OData
  practiceprotect.m365.m365_user_info:
    users: [jane.citizen@northwindacct.com, tom.baker@northwindacct.com]
    select: [id, userPrincipalName, accountEnabled]
  register: people

- name: Everyone in Tax whose address is not on the onmicrosoft.com domain
  practiceprotect.m365.m365_user_info:
    filter: "department eq 'Tax' and not endswith(userPrincipalName,'.onmicrosoft.com')"
    select: [userPrincipalName, displayName, mobilePhone]
  register: tax

- name: Active, licensed staff (nested groups included), with their mailbox types
  practiceprotect.m365.m365_user_info:
    member_of: [All Staff]
    account_enabled: true
    licensed: true
    include_mailbox_type: true
  register: staff

- name: The billable ones
  ansible.builtin.debug:
    msg: "{{ staff.users | selectattr('billable') | map(attribute='userPrincipalName') | list }}"

- name: Members (not guests) of the firm on its own domain holding Business Premium
  practiceprotect.m365.m365_user_info:
    user_type: Member
    company_name: Northwind Accounting
    domain: [northwindacct.com]
    assigned_licenses: [O365_BUSINESS_PREMIUM]
  register: premium
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
users:
  description:
    - The users found (empty when none match or the user does not exist).
    - In the filtered shape each user has C(id), C(userPrincipalName), C(displayName), C(accountEnabled), C(userType),
      C(companyName), C(mail), C(assignedLicenses), the properties of O(select), C(licenses) (SKU part numbers), and with
      O(include_mailbox_type) C(mailbox_type) (C(UserMailbox), C(SharedMailbox), C(RoomMailbox), C(EquipmentMailbox), or
      null without a mailbox) and C(billable).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11
      userPrincipalName: jane.citizen@northwindacct.com
      displayName: Jane Citizen
      accountEnabled: true
      userType: Member
      companyName: Northwind Accounting
      mail: jane.citizen@northwindacct.com
      assignedLicenses: [{skuId: f245ecc8-75af-4f8e-b61f-27d8114de5f3, disabledPlans: []}]
      licenses: [O365_BUSINESS_PREMIUM]
      mailbox_type: UserMailbox
      billable: true
count:
  description: Number of users returned.
  returned: always
  type: int
missing:
  description: With O(users), the keys (as given) that name no user of the tenant.
  returned: with O(users)
  type: list
  elements: str
  sample: [tom.baker@northwindacct.com]
skipped_users:
  description:
    - Users the filters selected but O(exclude_onmicrosoft) left out, each with the reason (C(onmicrosoft)).
    - Not called C(skipped) because Ansible reads a true C(skipped) in a result as "the task was skipped".
  returned: always
  type: list
  elements: dict
  sample: [{userPrincipalName: it.admin@northwindacct.onmicrosoft.com, reason: onmicrosoft}]
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
exchange_requests:
  description: How many Exchange Online requests the task sent (0 without O(include_mailbox_type)).
  returned: always
  type: int
replication_waits:
  description: How many times the task waited for directory replication (an object written but not readable yet).
  returned: always
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils import _user_query
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

query_options = _user_query.query_options  # kept importable from the module (unit tests, older callers)


SPEC = dict(
    user=dict(type="str"),
    users=dict(type="list", elements="str"),
    extensions=dict(type="list", elements="str"),
    filter=dict(type="str"),
    select=dict(type="list", elements="str"),
    advanced_query=dict(type="bool"),
    max_items=dict(type="int"),
    member_of=dict(type="list", elements="str"),
    account_enabled=dict(type="bool"),
    licensed=dict(type="bool"),
    assigned_licenses=dict(type="list", elements="str"),
    company_name=dict(type="str"),
    user_type=dict(type="str", choices=["Member", "Guest"]),
    domain=dict(type="list", elements="str"),
    exclude_onmicrosoft=dict(type="bool", default=True),
    include_mailbox_type=dict(type="bool", default=False),
)


def main():
    Module(SPEC, services=("graph", "exchange"), supports_check_mode=True,
           mutually_exclusive=[("user", "filter"), ("users", "user"), ("users", "filter"), ("users", "include_mailbox_type")]
           + [("user", name) for name in _user_query.FILTER_OPTIONS] + [("users", name) for name in _user_query.FILTER_OPTIONS],
           required_by={"extensions": "users"}).run(plan)


def plan(m, p):
    """Read the users; nothing to apply."""
    if p["users"] is not None:
        return dict(changed=False, **_user_query.read_keys(m.graph, p["users"], p["select"], p["extensions"])), None
    return dict(changed=False, **_user_query.run_query(m.graph, lambda: m.exchange, _user_query.build_spec(p))), None


if __name__ == "__main__":
    main()
