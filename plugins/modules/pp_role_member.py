#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pp_role_member
short_description: Add users to Practice Protect roles, remove them, or copy a similar user's roles
version_added: 0.1.0
description:
  - Manages the user members of Practice Protect roles, idempotently. Someone not in the right roles cannot sign in to
    the portal or reach their apps.
  - O(role) is a role name; O(members) are login names or e-mail addresses. Unknown roles and users fail before any
    write, with the close matches; with O(skip_unknown_members=true) unknown members are left out and returned in
    RV(skipped_members) instead.
  - Additive by default; O(exclusive=true) also removes the members of O(role) that are not listed, refused before any
    write when that would remove more users than the removal limit (O(max_removals), O(max_removals_percent), or the
    smaller of the two).
  - O(copy_from) gives the members every role of an existing, similar user ("find a similar user and view assigned
    roles"), except Everybody, which holds every user implicitly and is never changed.
  - Changing the membership of a role that feeds outbound provisioning (for example "Office 365") makes Practice Protect
    queue an automatic sync; use M(practiceprotect.m365.outbound_sync) to run one now and wait for it.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.practice_protect_auth
  - practiceprotect.m365.attributes
options:
  role:
    description:
      - Name of the role, for example V(Portal Access). Required unless O(copy_from) or O(all_roles) is given.
    type: str
  members:
    description:
      - Users by login name or e-mail address. With O(state=absent), users that Practice Protect does not have are skipped.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) makes the members members of the role(s); V(absent) removes them from O(role).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Also remove the user members of O(role) that O(members) does not list. Groups and roles that are members are left alone.
    type: bool
    default: false
  max_removals:
    description:
      - With O(exclusive=true), refuse (before any write) when more than this many users would be removed.
      - Defaults to V(5) when O(max_removals_percent) is not given either.
      - With O(max_removals_percent) as well, the smaller of the two limits applies.
      - The refusal fails the task with C(field=max_removals), RV(removal_limit) and RV(refused_removals).
    type: int
  max_removals_percent:
    description:
      - With O(exclusive=true), refuse (before any write) when the removals exceed this percentage of the role's
        current user members. The limit is C(max(1, floor(percent * members / 100))), so one leaver can always go,
        even from a small role or with V(0).
      - Guards against a source-side mistake (an emptied group, a wrong filter) that would otherwise empty the role.
      - Between V(0) and V(100).
    type: int
  skip_unknown_members:
    description:
      - Leave out the members that Practice Protect does not have (no user with that login name or e-mail) and return
        them in RV(skipped_members), instead of failing. Meant for lists computed from another directory, where
        not everyone has been invited into Practice Protect yet.
      - An e-mail address that several users share still fails.
    type: bool
    default: false
  copy_from:
    description:
      - Login name or e-mail address of an existing user whose roles the members should get too.
      - Never copied, and listed in RV(copy_skipped) with the reason - Everybody (every user holds it), a role that drives
        an application's outbound provisioning (the role named after a provisioning application, such as C(Office 365);
        copying it would have the joiner's account created by the sync), a role that carries administrative rights, and
        the roles of O(copy_exclude). Give such a role with O(role) when the person should have it.
    type: str
  copy_exclude:
    description: With O(copy_from), more roles never to copy.
    type: list
    elements: str
    default: []
  all_roles:
    description:
      - With O(state=absent) and no O(role), remove the members from every role they hold (offboarding).
        Everybody and built-in read-only roles are left alone.
    type: bool
    default: false
notes:
  - Practice Protect admin rights - Role Management (reads need any admin right). See docs/permissions.md.
seealso:
  - module: practiceprotect.m365.pp_user
  - module: practiceprotect.m365.outbound_sync
"""

EXAMPLES = r"""
- name: Give a joiner portal access
  practiceprotect.m365.pp_role_member:
    role: Portal Access
    members:
      - jane.citizen@northwindacct.com

- name: Give a joiner the same roles as a colleague in the same team
  practiceprotect.m365.pp_role_member:
    copy_from: tom.baker@northwindacct.com
    members:
      - jane.citizen@northwindacct.com

- name: The Tax Team is exactly these people (refuses to remove more than two)
  practiceprotect.m365.pp_role_member:
    role: Tax Team
    members: [tom.baker@northwindacct.com, jane.citizen@northwindacct.com]
    exclusive: true
    max_removals: 2

- name: The licensed staff in Microsoft 365
  practiceprotect.m365.m365_user_info:
    licensed: true
  register: staff

- name: Portal Access is exactly the licensed staff found in Microsoft 365 (at most 10% of the role removed per run)
  practiceprotect.m365.pp_role_member:
    role: Portal Access
    members: "{{ staff.users | map(attribute='userPrincipalName') | list }}"
    exclusive: true
    max_removals_percent: 10
    skip_unknown_members: true
  register: portal

- name: Take a leaver out of the Office 365 role
  practiceprotect.m365.pp_role_member:
    role: Office 365
    members: [tom.baker@northwindacct.com]
    state: absent
"""

RETURN = r"""
added:
  description: Login names added, by role name.
  returned: always
  type: dict
  sample: {Portal Access: [jane.citizen@northwindacct.com]}
removed:
  description: Login names removed, by role name.
  returned: always
  type: dict
  sample: {}
roles:
  description: The roles the task looked at (with O(copy_from), the roles copied).
  returned: always
  type: list
  elements: str
  sample: [Portal Access, Tax Team]
members:
  description: The user members of each role after the task (before it, in check mode, plus the planned change).
  returned: always
  type: dict
removal_limit:
  description:
    - With O(exclusive=true), the most users the task was allowed to remove (from O(max_removals) and
      O(max_removals_percent)); null otherwise. Also returned when the limit refused the task.
  returned: always
  type: int
  sample: 2
refused_removals:
  description: When the removal limit refused the task, the login names it would have removed (nothing was changed).
  returned: when the removal limit refused the task
  type: list
  elements: str
  sample: [priya.patel@northwindacct.com, reception@northwindacct.com]
copy_skipped:
  description: With O(copy_from), the template user's roles that were not copied, each with the reason.
  returned: always
  type: dict
  sample: {Office 365: drives outbound provisioning, System Administrator: "administrative (User Management, Role Management)"}
skipped_members:
  description:
    - Members (as given) that Practice Protect does not have, left out with O(skip_unknown_members=true) or with
      O(state=absent).
  returned: always
  type: list
  elements: str
  sample: [it.contractor@northwindacct.com]
plan:
  description: The calls made (or, in check mode, that would be made), with field names.
  returned: always
  type: list
  elements: dict
  sample: [{op: members, method: POST, path: /Roles/UpdateRole, role: Portal Access, fields: [Name, Users.Add]}]
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
pp_requests:
  description: How many Practice Protect requests the task sent.
  returned: always
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectModule
from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_roles


def main():
    m = PracticeProtectModule(
        argument_spec=dict(
            role=dict(type="str"),
            members=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            exclusive=dict(type="bool", default=False),
            max_removals=dict(type="int"),
            max_removals_percent=dict(type="int"),
            skip_unknown_members=dict(type="bool", default=False),
            copy_from=dict(type="str"),
            all_roles=dict(type="bool", default=False),
            copy_exclude=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
        admin_rights=("Role Management",),
    )
    m.run(run)


def run(m):
    spec = _pp_roles.build_spec(m.params)
    client = m.pp
    users = client.users()
    roles = client.roles()
    if spec["role"]:
        _pp_roles.target_roles(spec, roles)  # an unknown role fails first
    template_roles = None
    copy_skipped = {}
    if spec["copy_from"]:
        template = _pp_roles.resolve_users([spec["copy_from"]], users, field="copy_from")[0]
        template_roles, copy_skipped = _pp_roles.copyable_roles(
            client.user_roles(template["ID"]), _pp_roles.provisioning_role_names(client.applications()), spec["copy_exclude"])
    skipped = []
    member_users = _pp_roles.resolve_users(spec["members"], users, missing_ok=spec["state"] == "absent" or spec["skip_unknown_members"],
                                           skipped=skipped)
    if spec["all_roles"]:
        # Offboarding: every role any member holds (Everybody and built-in read-only roles are skipped).
        held = set()
        for user in member_users:
            held.update(client.user_role_names(user["ID"]))
        template_roles = sorted(name for name in held if name and not _read_only(name, roles))
    targets = _pp_roles.target_roles(spec, roles, template_roles)
    current = dict((role["ID"], client.role_members(role["ID"])) for role in targets)
    users_by_id = dict((u["ID"], u) for u in users)
    try:
        plan = _pp_roles.plan_membership(spec, targets, current, member_users, users_by_id)
    except _pp_roles.RemovalRefused as refused:
        m.fail(refused, removal_limit=refused.limit, refused_removals=refused.names, skipped_members=skipped, roles=[r["Name"] for r in targets])
    if not m.check_mode:
        _pp_roles.apply(client, plan)
    result = dict(changed=bool(plan["calls"]), added=plan["added"], removed=plan["removed"], roles=[r["Name"] for r in targets],
                  members=plan["after"], plan=_pp_roles.public_calls(plan), removal_limit=plan["removal_limit"], skipped_members=skipped,
                  copy_skipped=copy_skipped)
    if m.module._diff:
        result["diff"] = {"before": plan["before"], "after": plan["after"]}
    m.exit(**result)


def _read_only(name, roles):
    role = next((r for r in roles if r.get("Name") == name), None)
    return role is None or bool(role.get("ReadOnly"))


if __name__ == "__main__":
    main()
