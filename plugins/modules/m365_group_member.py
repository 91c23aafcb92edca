#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_group_member
short_description: Put a Microsoft 365 user into groups, take them out, or copy a similar user's groups
version_added: 0.1.0
description:
  - Manages the groups a user is a direct member of, idempotently - security groups, Microsoft 365 groups, distribution
    lists and mail-enabled security groups.
  - A team in Microsoft Teams is a Microsoft 365 group; putting someone into the team's group makes them a member of the
    team.
  - Security groups and Microsoft 365 groups change through Microsoft Graph (C(POST /groups/{id}/members/$ref),
    C(DELETE /groups/{id}/members/{id}/$ref)); with O(items), the calls of many people go out in C($batch) requests.
    Distribution lists and mail-enabled security groups change through Exchange Online
    (C(Add-DistributionGroupMember), C(Remove-DistributionGroupMember)), because Graph refuses to change their members.
  - Groups are named by display name, mail address or object id. A name no group has, or one several groups share (the
    error lists their ids), fails before any write.
  - Refused before any write, with the reason - dynamic groups (their members come from a rule), groups synced from
    on-premises Active Directory (change them there), and role-assignable groups unless O(allow_role_assignable=true).
  - O(groups) takes the collection's list actions - V(add), V(remove), V(set) (exactly these groups). O(groups.set) leaves
    the user in the groups the module may not change and lists them in RV(kept). Every removal counts against
    O(max_removals).
  - O(copy_from) gives the user the groups of a similar existing user; the kinds refused above are skipped and named in
    RV(copy_skipped).
  - Only direct memberships count; a membership through a nested group belongs to that group.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
options:
  user:
    description:
      - UPN or object id of the user.
      - Required unless O(items) is given.
    type: str
  groups:
    description:
      - Groups by display name, mail address or object id, in the collection's list idiom. Microsoft 365 keeps it as
        C(memberOf).
      - O(groups.add) puts the user into the groups, O(groups.remove) takes them out; O(groups.set) makes the user's direct
        groups exactly these (the ones the module may not change excepted) and takes precedence.
    type: dict
    suboptions:
      add:
        description: Groups the user must be a member of.
        type: list
        elements: str
      remove:
        description: Groups the user must not be a member of.
        type: list
        elements: str
      set:
        description: The only groups the user is a direct member of afterwards, besides those listed in RV(kept).
        type: list
        elements: str
  max_removals:
    description:
      - Refuse, before any write, to take the user out of more groups than this - a count, or a share of the groups the
        user is in now that the module may change, such as V(50%) (rounded down, at least one).
      - The refusal fails the task with C(field=max_removals), RV(removal_limit) and RV(refused_removals).
    type: raw
    default: 10
  copy_from:
    description:
      - UPN or object id of a similar user whose groups the user gets as well (added only; never removes).
      - Dynamic, on-premises-synced and (without O(allow_role_assignable)) role-assignable groups are skipped and listed
        in RV(copy_skipped).
    type: str
  allow_role_assignable:
    description:
      - Allow changing the members of role-assignable groups. Their members hold the directory roles assigned to the
        group, so this is off by default.
      - Graph then also needs C(RoleManagement.ReadWrite.Directory); see docs/permissions.md.
    type: bool
    default: false
  wait_for_mailbox:
    description:
      - Exchange knows a user as a member only once the user has a mailbox, which Exchange creates some minutes after
        an Exchange Online licence is assigned. V(true) waits for it (up to O(wait_timeout) seconds) before a
        distribution list or a mail-enabled security group is changed; nothing is waited for otherwise.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the mailbox with O(wait_for_mailbox=true).
    type: int
    default: 900
notes:
  - Permissions - the Microsoft Graph application permissions C(User.Read.All) and C(GroupMember.ReadWrite.All); for
    distribution lists and mail-enabled security groups also C(Exchange.ManageAsApp) of Office 365 Exchange Online and
    the Exchange Administrator directory role; for role-assignable groups also C(RoleManagement.ReadWrite.Directory). See
    docs/permissions.md.
  - Exchange changes reach Graph after a short while; a run right after one may read the old membership, finds the
    change done when it tries again, and reports it as done.
seealso:
  - module: practiceprotect.m365.m365_user
  - module: practiceprotect.m365.m365_user_info
  - module: practiceprotect.m365.pp_role_member
"""

EXAMPLES = r"""
- name: Put a joiner into a security group, a team's Microsoft 365 group and a distribution list
  practiceprotect.m365.m365_group_member:
    user: jane.citizen@northwindacct.com
    groups:
      add:
        - Tax Team
        - clientservices@northwindacct.com
        - Tax Announcements

- name: Give a joiner the groups of a colleague in the same team (dynamic, synced and role-assignable ones are skipped)
  practiceprotect.m365.m365_group_member:
    user: jane.citizen@northwindacct.com
    copy_from: tom.baker@northwindacct.com
  register: copied

- name: Take a user out of a group
  practiceprotect.m365.m365_group_member:
    user: jane.citizen@northwindacct.com
    groups:
      remove: [Tax Announcements]

- name: Exactly these groups (at most two removed)
  practiceprotect.m365.m365_group_member:
    user: jane.citizen@northwindacct.com
    groups:
      set: [All Staff, Tax Team]
    max_removals: 2

- name: Groups for several joiners in one task
  practiceprotect.m365.m365_group_member:
    fail_on_item_error: false
    items:
      - user: jane.citizen@northwindacct.com
        groups:
          add: [Tax Team]
      - user: oliver.brown@northwindacct.com
        copy_from: tom.baker@northwindacct.com
  register: joiner_groups
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
groups:
  description:
    - The user's direct groups after the task (read before it and changed by the plan; in check mode, what they would be).
    - C(kind) is V(security), V(microsoft365), V(mail_security) or V(distribution); C(not_managed) names why the module
      leaves the group alone (V(dynamic membership), V(synced from on-premises), V(role-assignable)), else null.
  returned: always
  type: list
  elements: dict
  sample: [{id: 3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04, name: Tax Team, mail: null, kind: security, not_managed: null}]
added:
  description: Display names of the groups the user was (or, in check mode, would be) put into.
  returned: always
  type: list
  elements: str
  sample: [Tax Team, Tax Announcements]
removed:
  description: Display names of the groups the user was (or would be) taken out of.
  returned: always
  type: list
  elements: str
  sample: []
kept:
  description: With O(groups.set), groups the user stays in because the module may not change them, with the reason.
  returned: always
  type: dict
  sample: {Licensed Staff: dynamic membership}
copy_skipped:
  description: With O(copy_from), the similar user's groups that were not copied, with the reason.
  returned: always
  type: dict
  sample: {Head Office: synced from on-premises, Helpdesk Admins: role-assignable}
removal_limit:
  description: The most groups the task was allowed to take the user out of (from O(max_removals)).
  returned: always
  type: int
  sample: 10
refused_removals:
  description: When the removal limit refused the task, the groups it would have removed (nothing was changed).
  returned: when the removal limit refused the task
  type: list
  elements: str
plan:
  description: The calls made (or, in check mode, that would be made) - Graph method and path, or the Exchange cmdlet and
    its parameter names - with the group.
  returned: always
  type: list
  elements: dict
  sample: [{service: graph, action: add, group: Tax Team, group_id: 3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04, method: POST,
            path: "/groups/3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04/members/$ref"}]
mailbox_waits:
  description: How many times the task polled Exchange for the user's mailbox (O(wait_for_mailbox)).
  returned: always
  type: int
outcomes:
  description:
    - With O(items), each person's result keyed by the lower-case O(user), with the keys above (C(groups), C(added),
      C(removed), C(kept), C(copy_skipped), C(removal_limit), C(plan), C(mailbox_waits), C(changed)), or C(failed) and C(msg).
  returned: with items
  type: dict
failed_items:
  description: With O(items), the users whose plan or calls failed.
  returned: with items
  type: list
  elements: str
exchange_requests:
  description: How many requests the task sent to Exchange Online.
  returned: always
  type: int
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Microsoft Graph requests the task sent (a C($batch) request counts once).
  returned: when the task used Microsoft Graph
  type: int
replication_waits:
  description: How many times the task waited for directory replication (an object written but not readable yet).
  returned: when the task used Microsoft Graph
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

import functools

from ansible_collections.practiceprotect.m365.plugins.module_utils import _exchange, _groups
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

ITEM_SPEC = _groups.MEMBERSHIP.argument_spec()


def main():
    Module(ITEM_SPEC, services=("graph", "exchange"), items=(ITEM_SPEC, "user"), supports_check_mode=True).run(plan, prefetch)


def service(m):
    """One ExchangeService (users, mailboxes) and one GroupDirectory per module run: what they read serves every person."""
    return m.shared("service", lambda: _exchange.ExchangeService(m.graph, m.exchange))


def directory(m):
    return m.shared("groups", lambda: _groups.GroupDirectory(m.graph))


def prefetch(m, params_list):
    """Everyone's user and similar user (Graph list queries), every named group (list queries), once; then the groups of each
    of those users all at once (``Module.concurrently``, in ``$batch`` requests), which ``plan`` takes from there."""
    specs = m.specs(_groups.build_spec, params_list)
    svc = service(m)
    users = svc.read_users([s["user"] for s in specs] + [s["copy_from"] for s in specs if s["copy_from"]])
    directory(m).read([key for s in specs for key in s["keys"]])
    keys = [("memberOf", user["id"]) for user in users.values() if user is not None]
    svc.read_each(keys, functools.partial(member_of, m), m.concurrently)


def member_of(m, key):
    """The groups of the user ``key`` names, ``("memberOf", user id)``."""
    return _groups.member_of(m.graph, key[1])


def plan(m, p):
    """Read and plan one user's groups; returns ``(result, apply)``."""
    spec = _groups.build_spec(p)
    svc = service(m)
    user = svc.user(spec["user"])
    template = None
    if spec["copy_from"]:
        template = svc.each(("memberOf", svc.user(spec["copy_from"], field="copy_from")["id"]), functools.partial(member_of, m))
    named = directory(m).resolve(spec["keys"]) if spec["keys"] else {}
    current = svc.each(("memberOf", user["id"]), functools.partial(member_of, m))
    planned = _groups.plan_membership(spec, user, current, named, template)  # refusals and the removal limit raise here
    polls = 0
    if p.get("wait_for_mailbox") and any(call["service"] == _groups.EXCHANGE for call in planned["calls"]):
        polls = svc.wait_for_mailbox(user, True, p.get("wait_timeout") or 900)[1]
    result = dict(changed=bool(planned["calls"]), groups=planned["after"], added=planned["added"], removed=planned["removed"],
                  kept=planned["kept"], copy_skipped=planned["copy_skipped"], removal_limit=planned["removal_limit"],
                  plan=_groups.public_calls(planned["calls"], user), mailbox_waits=polls)
    if m.module._diff:
        result["diff"] = {"before": _groups.diff_view(planned["before"]), "after": _groups.diff_view(planned["after"])}

    def apply():
        _groups.apply(planned["calls"], user, m.graph, m.exchange if any(c["service"] == _groups.EXCHANGE for c in planned["calls"]) else None,
                      lambda error: isinstance(error, _exchange.ExchangeError))
        return result

    return result, (apply if planned["calls"] else None)


if __name__ == "__main__":
    main()
