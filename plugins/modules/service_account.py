#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: service_account
short_description: The Practice Protect service account in Microsoft 365, with its directory role
version_added: 0.1.0
description:
  - Creates, updates and removes the account Practice Protect needs in a client's Microsoft 365 tenant
    (by default C(practiceprotect@<tenant>.onmicrosoft.com), display name C(Practice Protect)), idempotently.
  - Gives it the Microsoft Entra directory role its purpose needs - B(Global Administrator) for Office 365
    federation with Practice Protect, B(Exchange Administrator) for mail redirection - or an explicit list of roles.
  - The account is never licensed; a licence found on it is removed and reported (RV(licenses_removed)).
  - Its password is generated, strong and never printed. It is returned only with O(return_password=true),
    which requires C(no_log) on the task.
  - O(state=absent) removes the role assignments, then the account (a soft delete, restorable for 30 days).
    It refuses while the account serves federation (O(purpose=federation) or O(federation_enabled=true)) unless O(force=true).
  - Checks every input before the first write (role names, domain), plans the exact calls, and in check mode stops there.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
options:
  state:
    description:
      - V(present) creates or updates the account and its roles; V(absent) removes its role assignments, then the account.
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Sign-in name of the account, the part before the C(@).
    type: str
    default: practiceprotect
  domain:
    description:
      - Domain of the account's sign-in name. Must be a verified domain of the tenant.
      - Defaults to the tenant's initial C(*.onmicrosoft.com) domain, read from C(GET /domains), as Practice Protect asks.
    type: str
  display_name:
    description: Display name.
    type: str
    default: Practice Protect
  given_name:
    description: First name.
    type: str
    default: Practice
  surname:
    description: Last name.
    type: str
    default: Protect
  purpose:
    description:
      - What Practice Protect uses the account for. V(federation) gives it Global Administrator (Office 365 federation
        needs it for as long as federation is on); V(mail_redirection) gives it Exchange Administrator (it may be
        removed once onboarding is done).
      - With a purpose the account holds exactly that role; its other roles are removed (within O(max_removals)).
      - With O(state=absent), V(federation) makes the module refuse the removal unless O(force=true).
      - Mutually exclusive with O(roles). O(state=present) needs one of the two.
    type: str
    choices: [federation, mail_redirection]
  roles:
    description:
      - Directory roles instead of a O(purpose), by display name (any case, for example V(Exchange Administrator))
        or template id. Unknown names fail before any write, naming the closest roles of the tenant.
    type: dict
    suboptions:
      add:
        description: Give the account these roles; it keeps its others.
        type: list
        elements: str
      remove:
        description: Take these roles from the account.
        type: list
        elements: str
      set:
        description: The account holds exactly these roles; the others are removed. Takes precedence over O(roles.add) and O(roles.remove).
        type: list
        elements: str
  max_removals:
    description:
      - Refuse, before any write, a run that would take more role assignments from the account than this - a number,
        or a share of the assignments it holds now such as V(50%) (rounded down, at least 1).
    type: raw
    default: 3
  federation_enabled:
    description:
      - Whether Practice Protect's Office 365 federation is on for this tenant (the module cannot see it).
      - When V(true), the module refuses to remove the account or its Global Administrator role unless O(force=true).
    type: bool
    default: false
  force:
    description: Remove the account, or its Global Administrator role, although it serves federation.
    type: bool
    default: false
  rotate_password:
    description:
      - Set a new generated password on an existing account (so the task always reports a change).
      - Microsoft 365 lets an application reset an admin's password only if the application's own service principal
        holds a higher directory role, such as Privileged Authentication Administrator.
    type: bool
    default: false
  return_password:
    description:
      - Return the password this task set (on create or with O(rotate_password=true)) as RV(password).
      - The task must set C(no_log) when you use this, or the module fails before any write.
    type: bool
    default: false
  force_change_password:
    description: Make the account choose a new password at its next sign-in, after creation or rotation.
    type: bool
    default: true
  replication_timeout:
    description:
      - Seconds to keep retrying calls that answer 404 on the account this task has just created
        (directory replication lag, usually seconds, up to two minutes).
    type: int
    default: 120
notes:
  - Permissions (application) - C(User.ReadWrite.All), C(Domain.Read.All), C(Organization.Read.All) and
    C(RoleManagement.ReadWrite.Directory). See docs/permissions.md.
  - Microsoft 365 does not let an application with only C(User.ReadWrite.All) delete a user who holds an admin role;
    this module removes the account's role assignments first, so the delete is that of an ordinary user.
seealso:
  - module: practiceprotect.m365.m365_user
"""

EXAMPLES = r"""
- name: Service account for mail redirection (Exchange Administrator) on the tenant's onmicrosoft.com domain
  practiceprotect.m365.service_account:
    purpose: mail_redirection

- name: Service account for federation (Global Administrator); keep the generated password for Practice Protect
  practiceprotect.m365.service_account:
    purpose: federation
    federation_enabled: true
    return_password: true
  register: pp_account
  no_log: true

- name: Switch an onboarding account to federation, dropping Exchange Administrator
  practiceprotect.m365.service_account:
    purpose: federation

- name: Explicit roles instead of a purpose; remove any other role
  practiceprotect.m365.service_account:
    roles:
      set:
        - Exchange Administrator
        - Global Reader

- name: Give the account a new password (the app needs Privileged Authentication Administrator, docs/permissions.md)
  practiceprotect.m365.service_account:
    purpose: mail_redirection
    rotate_password: true
    return_password: true
  register: pp_account
  no_log: true

- name: Remove the mail-redirection account once onboarding is done
  practiceprotect.m365.service_account:
    state: absent

- name: Remove a federation account after federation was turned off in Practice Protect
  practiceprotect.m365.service_account:
    state: absent
    federation_enabled: false
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
user_principal_name:
  description: Sign-in name of the account.
  returned: always
  type: str
  sample: practiceprotect@northwindacct.onmicrosoft.com
user:
  description:
    - The account after the task (before it, for O(state=absent)), in Graph property names, plus licence part
      numbers and role names. Empty when there is no account.
  returned: always
  type: dict
  sample:
    id: 5d1e0c6a-3f7b-4a2e-9c8d-1b2a3c4d5e6f
    userPrincipalName: practiceprotect@northwindacct.onmicrosoft.com
    displayName: Practice Protect
    givenName: Practice
    surname: Protect
    accountEnabled: true
    licenses: []
    roles: [Exchange Administrator]
action:
  description: What the task did or would do to the account.
  returned: always
  type: str
  sample: create
  choices: [none, create, update, delete]
roles:
  description: Display names of the directory roles the account holds after the task.
  returned: always
  type: list
  elements: str
  sample: [Global Administrator]
roles_added:
  description: Directory roles given to the account.
  returned: always
  type: list
  elements: str
roles_removed:
  description: Directory roles taken from the account.
  returned: always
  type: list
  elements: str
licenses_removed:
  description: Part numbers of licences found on the account and removed (it must stay unlicensed).
  returned: always
  type: list
  elements: str
password_set:
  description: Whether the task set (or in check mode would set) a password; the password itself is never shown here.
  returned: always
  type: bool
password:
  description:
    - The password the task set. Only with O(return_password=true), outside check mode, when the task created the
      account or rotated its password. The task must set C(no_log).
  returned: when requested
  type: str
plan:
  description: The calls made (or, in check mode, that would be made), with field names and role names but never values.
  returned: always
  type: list
  elements: dict
  sample:
    - {op: create, method: POST, path: /users, fields: [accountEnabled, displayName, givenName, mailNickname, passwordProfile, surname,
                                                        userPrincipalName]}
    - {op: role_add, method: POST, path: /roleManagement/directory/roleAssignments, fields: [directoryScopeId, principalId, roleDefinitionId],
       role: Exchange Administrator}
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
replication_waits:
  description: How many times the task waited for directory replication.
  returned: always
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model, _roles, _users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    name=dict(type="str", default=_roles.DEFAULT_NAME),
    domain=dict(type="str"),
    display_name=dict(type="str", default=_roles.DEFAULT_DISPLAY_NAME),
    given_name=dict(type="str", default=_roles.DEFAULT_GIVEN_NAME),
    surname=dict(type="str", default=_roles.DEFAULT_SURNAME),
    purpose=dict(type="str", choices=["federation", "mail_redirection"]),
    roles=_model.list_option(),
    max_removals=dict(type="raw", default=_roles.MAX_REMOVALS),
    federation_enabled=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    rotate_password=dict(type="bool", default=False, no_log=False),
    return_password=dict(type="bool", default=False, no_log=False),
    force_change_password=dict(type="bool", default=True, no_log=False),
    replication_timeout=dict(type="int", default=120),
)


def main():
    Module(SPEC, mutually_exclusive=[("purpose", "roles")], secret_results={"return_password": "the service account's password"},
           supports_check_mode=True).run(plan)


def plan(m, p):
    """Read the account, its roles and the tenant's domains, and plan; returns ``(result, apply)``."""
    spec = _roles.service_account_spec(p)
    users = _users.UserService(m.graph)
    roles = _roles.RoleService(m.graph)
    domains = users.domains()
    domain = v.check_domain_verified(spec["domain"], domains, field="domain") if spec["domain"] else _roles.initial_domain(domains)
    upn = "%s@%s" % (spec["name"], domain)
    definitions = roles.definitions()
    if spec["state"] == "present":
        _roles.wanted_roles(spec, definitions)  # unknown role names fail before anything else is read
    current = users.read([upn]).get(upn.lower())
    assignments = roles.assignments_of(current["id"]) if current else []
    skus = users.skus() if current and current.get("assignedLicenses") else []
    password = v.generate_password() if (current and spec["rotate_password"] and spec["state"] == "present") else None
    first = _roles.plan_service_account(spec, upn, current, assignments, definitions, skus, password)
    if first["licenses_removed"]:
        m.module.warn("The service account %s held licence(s) %s; %s, because it must stay unlicensed." % (
            upn, ", ".join(first["licenses_removed"]), "they would be removed" if m.check_mode else "they were removed"))

    def result_of(done):
        result = dict(
            changed=done["changed"], action=done["action"], user_principal_name=upn,
            user=done["after"] if spec["state"] == "present" else done["before"],
            roles=done["roles_after"], roles_added=done["roles_added"], roles_removed=done["roles_removed"],
            licenses_removed=done["licenses_removed"], password_set=done["password_set"], plan=_roles.service_account_public_plan(done),
        )
        if m.module._diff:
            result["diff"] = {"before": done["before"], "after": done["after"]}
        if spec["return_password"] and done["password_set"] and done.get("password") and not m.check_mode:
            result["password"] = done["password"]
        return result

    def replan(found):
        """The account exists although the read did not show it: plan again against it (its roles too)."""
        again = _roles.plan_service_account(spec, upn, found, roles.assignments_of(found["id"]), definitions, users.skus(), None)
        again.update(action=first["action"], password=None, password_set=False)
        applied["plan"] = again
        return again["user_plan"]

    applied = {"plan": first}

    def apply():
        user_id = current["id"] if current else None
        try:
            if first["user_plan"]["action"] == "delete":
                roles.apply(first["role_calls"], user_id)
                users.apply(first["user_plan"])
            else:
                if first["user_plan"]["calls"]:
                    user_id, _done = users.apply_or_adopt(first["user_plan"], replan)
                done = applied["plan"]
                if done["role_calls"]:
                    roles.apply(done["role_calls"], user_id, lagging=first["user_plan"]["action"] == "create")
        except GraphError as exc:
            if exc.status == 403 and current and assignments and exc.path and exc.path.startswith("users/"):
                refused(m, exc, upn, assignments, definitions)
            raise
        done = applied["plan"]
        if done["after"]:
            done["after"]["id"] = user_id
        return result_of(done)

    return result_of(first), (apply if first["calls"] else None)


def refused(m, exc, upn, assignments, definitions):
    """Microsoft 365 refused to change an admin's password, sign-in or existence: say what the app needs."""
    deleting = exc.method == "DELETE"
    held = ", ".join(sorted(set(_roles.role_name(a.get("roleDefinitionId"), definitions) for a in assignments)))
    message = _roles.ADMIN_REFUSAL % (
        "delete" if deleting else "set the password or sign-in state of", upn, exc.code, held,
        "remove its roles first" if deleting else "run without rotate_password (an enabled account needs no other such change)")
    result = m.call_stats()
    result.update(exc.as_dict())
    m.module.fail_json(msg=message, **result)


if __name__ == "__main__":
    main()
