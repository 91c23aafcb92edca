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
    write, with the close matches.
  - Additive by default; O(exclusive=true) also removes the members of O(role) that are not listed, refused when that
    would remove more than O(max_removals) users.
  - O(copy_from) gives the members every role of an existing, similar user ("find a similar user and view assigned
    roles"), except Everybody, which holds every user implicitly and is never changed.
  - Changing the membership of a role that feeds outbound provisioning (for example "Office 365") makes Practice Protect
    queue an automatic sync; use M(practiceprotect.m365.outbound_sync) to run one now and wait for it.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.practice_protect_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.attributes.ACTIONS
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
    type: int
    default: 5
  copy_from:
    description:
      - Login name or e-mail address of an existing user whose roles the members should get too (Everybody excluded).
    type: str
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
            max_removals=dict(type="int", default=5),
            copy_from=dict(type="str"),
            all_roles=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
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
    if spec["copy_from"]:
        template = _pp_roles.resolve_users([spec["copy_from"]], users, field="copy_from")[0]
        template_roles = client.user_role_names(template["ID"])
    member_users = _pp_roles.resolve_users(spec["members"], users, missing_ok=spec["state"] == "absent")
    if spec["all_roles"]:
        # Offboarding: every role any member holds (Everybody and built-in read-only roles are skipped).
        held = set()
        for user in member_users:
            held.update(client.user_role_names(user["ID"]))
        template_roles = sorted(name for name in held if name and not _read_only(name, roles))
    targets = _pp_roles.target_roles(spec, roles, template_roles)
    current = dict((role["ID"], client.role_members(role["ID"])) for role in targets)
    users_by_id = dict((u["ID"], u) for u in users)
    plan = _pp_roles.plan_membership(spec, targets, current, member_users, users_by_id)
    if not m.check_mode:
        _pp_roles.apply(client, plan)
    result = dict(changed=bool(plan["calls"]), added=plan["added"], removed=plan["removed"], roles=[r["Name"] for r in targets],
                  members=plan["after"], plan=_pp_roles.public_calls(plan))
    if m.module._diff:
        result["diff"] = {"before": plan["before"], "after": plan["after"]}
    m.exit(**result)


def _read_only(name, roles):
    role = next((r for r in roles if r.get("Name") == name), None)
    return role is None or bool(role.get("ReadOnly"))


if __name__ == "__main__":
    main()
