#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
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
  - O(members) takes the collection's list actions - V(add), V(remove), V(set) (exactly these users). Every removal
    counts against O(max_removals) and is refused before any write when too many users would go.
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
      - Users by login name or e-mail address.
    type: dict
    required: true
    suboptions:
      add:
        description: Make these users members of O(role) (and, with O(copy_from), of the template user's roles).
        type: list
        elements: str
      remove:
        description:
          - Take these users out of O(role) (with O(all_roles=true), out of every role they hold). Users that Practice
            Protect does not have are skipped.
        type: list
        elements: str
      set:
        description:
          - O(role)'s user members are exactly these users; the others are removed. Groups and roles that are members of
            the role are left alone. Takes precedence over O(members.add) and O(members.remove).
        type: list
        elements: str
  max_removals:
    description:
      - Refuse (before any write) when more users than this would be removed - a number, or a share of the user members
        the roles hold now such as V(10%) (rounded down, at least 1, so one leaver can always go).
      - Guards against a source-side mistake (an emptied group, a wrong filter) that would otherwise empty the role.
      - A person taken out of several roles counts once.
      - The refusal fails the task with C(field=max_removals), RV(removal_limit) and RV(refused_removals).
    type: raw
    default: 5
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
      - Without O(role), take the users of O(members.remove) out of every role they hold (offboarding).
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
      add: [jane.citizen@northwindacct.com]

- name: Give a joiner the same roles as a colleague in the same team
  practiceprotect.m365.pp_role_member:
    copy_from: tom.baker@northwindacct.com
    members:
      add: [jane.citizen@northwindacct.com]

- name: The Tax Team is exactly these people (refuses to remove more than two)
  practiceprotect.m365.pp_role_member:
    role: Tax Team
    members:
      set: [tom.baker@northwindacct.com, jane.citizen@northwindacct.com]
    max_removals: 2

- name: The licensed staff in Microsoft 365
  practiceprotect.m365.m365_user_info:
    licensed: true
  register: staff

- name: Portal Access is exactly the licensed staff found in Microsoft 365 (at most 10% of the role removed per run)
  practiceprotect.m365.pp_role_member:
    role: Portal Access
    members:
      set: "{{ staff.users | map(attribute='userPrincipalName') | list }}"
    max_removals: 10%
    skip_unknown_members: true
  register: portal

- name: Take a leaver out of the Office 365 role
  practiceprotect.m365.pp_role_member:
    role: Office 365
    members:
      remove: [tom.baker@northwindacct.com]

- name: Take a leaver out of every role they hold
  practiceprotect.m365.pp_role_member:
    all_roles: true
    members:
      remove: [tom.baker@northwindacct.com]
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
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
    - The most users the task was allowed to remove (from O(max_removals)). Also returned when the limit refused the task.
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
    - Members (as given) that Practice Protect does not have, left out with O(skip_unknown_members=true) or because
      they were to be removed.
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

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model, _pp_roles, _pp_users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

SPEC = dict(
    role=dict(type="str"),
    members=dict(_model.list_option(), required=True),
    max_removals=dict(type="raw", default=_pp_roles.MAX_REMOVALS),
    skip_unknown_members=dict(type="bool", default=False),
    copy_from=dict(type="str"),
    all_roles=dict(type="bool", default=False),
    copy_exclude=dict(type="list", elements="str", default=[]),
)


def main():
    Module(SPEC, services=("practice_protect",), admin_rights=("Role Management",), supports_check_mode=True).run(plan)


def plan(m, p):
    """Read the roles and their members, and plan; returns ``(result, apply)``."""
    spec = _pp_roles.build_spec(p)
    client = m.pp
    change = spec["members"]
    named = sorted(set(k.lower() for k in change.add + change.remove + (change.set or []) + ([spec["copy_from"]] if spec["copy_from"] else [])))
    if len(named) > _pp_users.WHOLE_TABLE_AT:
        return _plan(m, p, spec, client, None)
    try:  # a few people: only their rows
        return _plan(m, p, spec, client, _pp_users.read_named(client, named))
    except v.ValidationError as exc:
        if exc.field not in ("members.add", "members.set", "copy_from"):
            raise
        return _plan(m, p, spec, client, None)  # an unknown user is told with the close matches among all the users


def _plan(m, p, spec, client, users):
    """The plan, with the rows of the users the task names (``users``), or (None) with every user of the tenant."""
    users = client.users() if users is None else users
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
    change = spec["members"]
    lenient = spec["skip_unknown_members"]
    resolved = {
        "add": _pp_roles.resolve_users(change.add, users, field="members.add", missing_ok=lenient, skipped=skipped),
        # Someone Practice Protect does not have holds no role: nothing to take away.
        "remove": _pp_roles.resolve_users(change.remove, users, field="members.remove", missing_ok=True, skipped=skipped),
        "set": (_pp_roles.resolve_users(change.set, users, field="members.set", missing_ok=lenient, skipped=skipped)
                if change.set is not None else None),
    }
    if spec["all_roles"]:
        # Offboarding: every role any member holds (Everybody and built-in read-only roles are skipped), each member's roles
        # read at the same time as the others'; the first member (in the order given) whose read failed fails the task.
        held = set()
        for names in answers(m.concurrently(lambda user: client.user_role_names(user["ID"]), resolved["remove"])):
            held.update(names)
        template_roles = sorted(name for name in held if name and not _read_only(name, roles))
    targets = _pp_roles.target_roles(spec, roles, template_roles)
    current = dict(zip([role["ID"] for role in targets], answers(m.concurrently(lambda role: client.role_members(role["ID"]), targets))))
    users_by_id = dict((u["ID"], u) for u in users)
    try:
        planned = _pp_roles.plan_membership(spec, targets, current, resolved, users_by_id)
    except _model.RemovalRefused as refused:
        m.fail(refused, skipped_members=skipped, roles=[r["Name"] for r in targets])
    result = dict(changed=bool(planned["calls"]), added=planned["added"], removed=planned["removed"], roles=[r["Name"] for r in targets],
                  members=planned["after"], plan=_pp_roles.public_calls(planned), removal_limit=planned["removal_limit"],
                  skipped_members=skipped, copy_skipped=copy_skipped)
    if m.module._diff:
        result["diff"] = {"before": planned["before"], "after": planned["after"]}

    def apply():
        _pp_roles.apply(client, planned)
        return result

    return result, (apply if planned["calls"] else None)


def answers(results):
    """The answers of ``Module.concurrently``, in order; the first error met is raised, as a read made one after another would."""
    out = []
    for answer, error in results:
        if error is not None:
            raise error
        out.append(answer)
    return out


def _read_only(name, roles):
    role = next((r for r in roles if r.get("Name") == name), None)
    return role is None or bool(role.get("ReadOnly"))


if __name__ == "__main__":
    main()
