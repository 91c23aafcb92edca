#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_user
short_description: Create, update, disable, delete and restore Microsoft 365 users
version_added: 0.1.0
description:
  - Manages a Microsoft 365 (Entra ID) user through Microsoft Graph, idempotently; or many users in one
    task with O(items), read with list queries and planned together.
  - Creates the user if no user has the UPN; restores a soft-deleted user with that UPN instead of
    creating a duplicate (O(restore_deleted)); adopts an existing account without recreating it.
  - Checks every input before the first write, against the tenant where needed (verified domain,
    SKU names, free seats, usage location), and fails with a sentence that says what to do.
  - Reads the current state, plans the exact calls, and in check mode stops there.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
options:
  user:
    description:
      - Sign-in name (user principal name) of the user, C(name@domain). The domain must be verified in the tenant.
      - Required unless O(items) is given.
    type: str
  state:
    description:
      - V(present) creates or updates the user; V(absent) soft-deletes it (restorable for 30 days).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description:
      - Display name. Defaults on create to O(given_name) O(surname), else the part of the UPN before the @.
      - Microsoft 365 keeps it as C(displayName), at most 256 characters.
    type: str
  given_name:
    description:
      - First name.
      - Microsoft 365 keeps it as C(givenName), at most 64 characters.
    type: str
  surname:
    description:
      - Last name.
      - Microsoft 365 keeps it as C(surname), at most 64 characters.
    type: str
  mail_nickname:
    description:
      - Mail alias. Defaults on create to the part of the UPN before the @.
      - Microsoft 365 keeps it as C(mailNickname), at most 64 characters.
    type: str
  job_title:
    description:
      - Job title.
      - Microsoft 365 keeps it as C(jobTitle), at most 128 characters.
    type: str
  department:
    description:
      - Department.
      - Microsoft 365 keeps it as C(department), at most 64 characters.
    type: str
  company_name:
    description:
      - Company name.
      - Microsoft 365 keeps it as C(companyName), at most 64 characters.
    type: str
  office_location:
    description:
      - Office.
      - Microsoft 365 keeps it as C(officeLocation), at most 128 characters.
    type: str
  mobile_phone:
    description:
      - Mobile number, stored in E.164 form (C(+61412345678)). Practice Protect uses it for SMS one-time codes.
      - A local number is accepted when O(phone_region) is set.
      - Microsoft 365 keeps it as C(mobilePhone), at most 64 characters.
    type: str
  business_phone:
    description:
      - Business phone, in the same forms as O(mobile_phone).
      - Microsoft 365 keeps it as C(businessPhones), a list that holds one number.
    type: str
  phone_region:
    description: ISO 3166 country code used to read local phone numbers, for example V(AU).
    type: str
  usage_location:
    description:
      - ISO 3166 two-letter country code where the user uses the services. Required before licences can be assigned.
      - Microsoft 365 keeps it as C(usageLocation).
    type: str
  other_mails:
    description:
      - Alternate e-mail addresses (for example a personal address for the first-day password).
      - Microsoft 365 keeps it as C(otherMails).
    type: list
    elements: str
  employee_id:
    description:
      - Employee number.
      - Microsoft 365 keeps it as C(employeeId), at most 16 characters.
    type: str
  employee_type:
    description:
      - Kind of employment, such as C(Employee), C(Contractor) or C(Intern).
      - Microsoft 365 keeps it as C(employeeType), at most 64 characters.
    type: str
  employee_hire_date:
    description:
      - The day the person starts, as C(YYYY-MM-DD).
      - Microsoft 365 keeps it as C(employeeHireDate), a timestamp at midnight UTC of that day.
    type: str
  manager:
    description: UPN or object id of the user's manager.
    type: str
  account_enabled:
    description:
      - Whether the user can sign in. V(false) blocks sign-in (the first step of offboarding). New users are enabled unless set.
      - Microsoft 365 keeps it as C(accountEnabled).
    type: bool
  revoke_sessions:
    description:
      - Revoke the user's sign-in sessions and refresh tokens (offboarding), after O(account_enabled=false) is applied.
      - Revokes while the account is enabled, and for a blocked account only when its sessions were not revoked since
        the last password change; so a finished offboarding does not revoke again, and a run stopped between
        blocking and revoking still revokes when run again.
      - Needs C(User.RevokeSessions.All) (or C(User.ReadWrite.All)).
    type: bool
    default: false
  licenses:
    description:
      - Licences, as SKU part numbers (V(O365_BUSINESS_PREMIUM)) or skuId GUIDs, in the collection's list idiom.
      - O(licenses.add) and O(licenses.remove) change the licences the user holds; O(licenses.set) makes them exactly
        these (V([]) takes them all) and takes precedence over the other two.
    type: dict
    suboptions:
      add:
        description: Licences the user must hold.
        type: list
        elements: str
      remove:
        description: Licences the user must not hold.
        type: list
        elements: str
      set:
        description: The only licences the user holds afterwards.
        type: list
        elements: str
  max_removals:
    description:
      - Refuse, before any write, to take away more licences from one user than this - a count, or a share of the
        licences the user holds now such as V(50%) (rounded down, at least one).
    type: raw
    default: 10
  password:
    description:
      - Initial password. When left out on create, a strong random password is generated; it is
        never printed and is returned only with O(return_password=true).
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created; V(always) resets it on every run (and so always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  scramble_password:
    description:
      - Give an existing user a new random password that nobody sees (offboarding) - generated in the module, sent once to
        Microsoft 365, never returned, logged or shown in a diff or plan. Nothing happens for a user this task creates.
      - Without O(password_changed_since) every run scrambles again and reports a change, as O(update_password=always) does.
      - With O(revoke_sessions=true), sessions are revoked after the new password is set.
      - Resetting the password of a user who holds an admin role needs a directory role on the application (see docs/permissions.md).
    type: bool
    default: false
  password_changed_since:
    description:
      - With O(scramble_password=true), a password last changed at or after this time (ISO 8601 with its zone) counts as
        scrambled already, so a re-run changes nothing. The offboard_user role passes the time its leaver record was first written.
    type: str
  force_change_password:
    description: Make the user choose a new password at the next sign-in.
    type: bool
    default: true
  return_password:
    description:
      - Return a generated password as RV(password). The task must set C(no_log) when you use this, or the module fails before any call.
    type: bool
    default: false
  restore_deleted:
    description: Restore a soft-deleted user with the same UPN instead of creating a new one.
    type: bool
    default: true
  extensions:
    description:
      - Open extensions of the user (Graph C(openTypeExtension)), by reverse-DNS name, each a dictionary of its properties; a
        listed extension holds exactly these properties afterwards (Graph replaces them all), V(null) removes it.
        Extensions not listed are left alone. At most 2 KB each, as Graph keeps.
      - A new user's extensions are written right after the user is created, before anything else, so that data kept with
        an account (the onboarding's "password not delivered yet" marker, the offboarding's leaver record) is never
        missing from an account this module made.
    type: dict
  allow_mail_loss:
    description:
      - Taking the last licence from a user whose mailbox Exchange Online shows as a regular user mailbox deletes that
        mail once the grace period ends, so the module refuses it (before any write) unless this is V(true). Convert the
        mailbox to shared first (M(practiceprotect.m365.m365_mailbox) with O(practiceprotect.m365.m365_mailbox#module:type=shared)).
      - The mailbox's type is read from Exchange Online only when a plan would take the last licence from a user with a
        mailbox; that read needs the Exchange permissions of docs/permissions.md.
    type: bool
    default: false
  replication_timeout:
    description:
      - Seconds to keep retrying calls that answer 404 on a user this task has just created or restored
        (directory replication lag, usually seconds, up to two minutes).
    type: int
    default: 120
notes:
  - Permissions (application) - C(User.ReadWrite.All), C(Domain.Read.All) and C(Organization.Read.All); to take a user's last
    licence, also C(Exchange.ManageAsApp) and the Exchange Administrator role, to read the mailbox's type. See docs/permissions.md.
seealso:
  - module: practiceprotect.m365.m365_user_info
"""

EXAMPLES = r"""
- name: Create a joiner with a licence (connection settings from M365_* environment variables)
  practiceprotect.m365.m365_user:
    user: jane.citizen@northwindacct.com
    given_name: Jane
    surname: Citizen
    job_title: Senior Accountant
    department: Tax
    mobile_phone: "0412 345 678"
    phone_region: AU
    usage_location: AU
    manager: sarah.jones@northwindacct.com
    licenses:
      add: [O365_BUSINESS_PREMIUM]

- name: Create a user and keep the generated password for the welcome mail
  practiceprotect.m365.m365_user:
    user: sam.lee@northwindacct.com
    display_name: Sam Lee
    return_password: true
  register: sam
  no_log: true

- name: A leaver's mailbox becomes shared first, so that Exchange keeps the mail without a licence
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    type: shared

- name: Then block sign-in and take back every licence (refused while the mailbox is a regular one)
  practiceprotect.m365.m365_user:
    user: tom.baker@northwindacct.com
    account_enabled: false
    licenses:
      set: []

- name: Block sign-in and revoke the sessions of a leaver
  practiceprotect.m365.m365_user:
    user: tom.baker@northwindacct.com
    account_enabled: false
    revoke_sessions: true

- name: Scramble a leaver's password once (nobody sees it), then revoke the sessions again
  practiceprotect.m365.m365_user:
    user: tom.baker@northwindacct.com
    account_enabled: false
    scramble_password: true
    password_changed_since: "2026-12-07T10:00:00+00:00"
    revoke_sessions: true

- name: Many joiners in one task, read with list queries and planned together
  practiceprotect.m365.m365_user:
    usage_location: AU
    licenses:
      add: [O365_BUSINESS_PREMIUM]
    fail_on_item_error: false
    items:
      - user: jane.citizen@northwindacct.com
        given_name: Jane
        surname: Citizen
      - user: oliver.brown@northwindacct.com
        given_name: Oliver
        surname: Brown
        licenses:
          add: [O365_BUSINESS_ESSENTIALS]
  register: joiners

- name: Soft-delete a user (restorable for 30 days; running state=present again restores it)
  practiceprotect.m365.m365_user:
    user: tom.baker@northwindacct.com
    state: absent

# The connection can also be set once for a whole play instead of through M365_* environment variables:
#
# - name: Joiners
#   hosts: localhost
#   module_defaults:
#     group/practiceprotect.m365.m365:
#       tenant_id: "{{ m365_tenant_id }}"
#       client_id: "{{ m365_client_id }}"
#       client_certificate_path: /etc/ansible/m365-automation.pem
#   tasks:
#     - name: Create a joiner
#       practiceprotect.m365.m365_user:
#         user: jane.citizen@northwindacct.com
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
user:
  description: The user after the task (before it, for O(state=absent)), in Graph property names, plus licence part numbers.
  returned: always
  type: dict
  sample:
    id: 0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11
    userPrincipalName: jane.citizen@northwindacct.com
    displayName: Jane Citizen
    usageLocation: AU
    licenses: [O365_BUSINESS_PREMIUM]
action:
  description: What the task did or would do.
  returned: always
  type: str
  sample: create
  choices: [none, create, update, restore, delete]
plan:
  description: The calls made (or, in check mode, that would be made), with field names but never values.
  returned: always
  type: list
  elements: dict
  sample: [{op: create, method: POST, path: /users, fields: [displayName, passwordProfile, userPrincipalName]}]
licenses_added:
  description: Part numbers of the licences added.
  returned: always
  type: list
  elements: str
licenses_removed:
  description: Part numbers of the licences removed.
  returned: always
  type: list
  elements: str
sessions_revoked:
  description: Whether the task revoked (or would revoke) the user's sign-in sessions.
  returned: always
  type: bool
password_scrambled:
  description: Whether the task gave (or would give) the user a new random password (O(scramble_password)); the password itself is never returned.
  returned: always
  type: bool
outcomes:
  description:
    - With O(items), each person's result keyed by lower-case UPN, with the keys above (C(user), C(action), C(plan),
      C(licenses_added), C(licenses_removed), C(sessions_revoked), C(password_scrambled), C(changed)), or C(failed) and C(msg).
  returned: with items
  type: dict
failed_items:
  description: With O(items), the UPNs whose plan or calls failed.
  returned: with items
  type: list
  elements: str
password:
  description: The generated password. Only with O(return_password=true) and when this task created the user with a generated password.
  returned: when requested
  type: str
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
exchange_requests:
  description:
    - How many requests the task sent to Exchange Online (it reads a mailbox's type before taking the user's last licence).
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

import copy

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module
from ansible_collections.practiceprotect.m365.plugins.module_utils import _exchange, _model, _users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v

# The user's attributes come from _users.USER (one row each); the options below are what the module does with them.
ITEM_SPEC = _users.USER.argument_spec(
    user=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    phone_region=dict(type="str"),
    manager=dict(type="str"),
    revoke_sessions=dict(type="bool", default=False),
    licenses=_model.list_option(),
    max_removals=dict(type="raw", default=10),
    password=dict(type="str", no_log=True),
    update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
    scramble_password=dict(type="bool", default=False, no_log=False),
    password_changed_since=dict(type="str", no_log=False),
    force_change_password=dict(type="bool", default=True, no_log=False),
    return_password=dict(type="bool", default=False, no_log=False),
    restore_deleted=dict(type="bool", default=True),
    replication_timeout=dict(type="int", default=120),
    extensions=dict(type="dict"),
    allow_mail_loss=dict(type="bool", default=False),
)


def main():
    Module(ITEM_SPEC, services=("graph", "exchange"), items=(ITEM_SPEC, "user"),
           secret_results={"return_password": "each new user's generated password"}, supports_check_mode=True).run(plan, prefetch)


def service(m):
    """One UserService per module run: what it reads once serves every person of the task."""
    return m.shared("service", lambda: _users.UserService(m.graph))


def prefetch(m, params_list):
    specs = m.specs(_users.build_spec, params_list)
    service(m).prefetch(specs)
    # Many leavers losing their last licence: their mailboxes' types with one Exchange list (see mail_guard).
    svc = service(m)
    purging = [s for s in specs if (s["licenses"].set is not None or s["licenses"].remove) and not s["allow_mail_loss"]]
    users = [u for u in (svc.read([s["upn"] for s in purging]).values() if purging else []) if u.get("mail") and u.get("assignedLicenses")]
    if len(users) >= _exchange.MAILBOX_LIST_FROM:
        mailboxes(m).read_mailboxes(users)


def plan(m, p):
    """Read and plan one person; returns ``(result, apply)``."""
    spec = _users.build_spec(p)
    svc = service(m)
    upn = spec["upn"].lower()
    present = spec["state"] == "present"
    if present:
        v.check_domain_verified(spec["domain"], svc.domains())
    current = svc.read([upn], with_manager=bool(present and spec["manager"])).get(upn)
    extensions_now = svc.read_extensions([upn], spec["extensions"]).get(upn) if current and spec["extensions"] is not None else {}
    deleted = None
    if present and current is None and spec["restore_deleted"]:
        deleted = svc.read_deleted([upn]).get(upn)
    skus = svc.skus() if present or (current and current.get("assignedLicenses")) else []
    manager_target = manager_now = None
    if present and spec["manager"]:
        manager_target = svc.resolve_user(spec["manager"])
        if manager_target is None:
            raise v.ValidationError("manager %s is not a user in this tenant." % spec["manager"], field="manager")
        if current:
            manager_now = svc.manager_of(current)
    skus_before = copy.deepcopy(skus)

    def make_plan(cur, dele, mgr_now, seats):
        return _users.plan_user(spec, cur, dele, seats, mgr_now, manager_target, p["graph_url"], extensions_now=extensions_now)

    first = make_plan(current, deleted, manager_now, skus)
    if first.get("mail_at_risk") and not spec["allow_mail_loss"]:
        mail_guard(m, current)
    _reserve_seats(skus, first)  # the next person of the task sees the seats this one takes

    def result_of(done):
        result = dict(
            changed=bool(done["calls"]),
            action=done["action"],
            plan=_users.public_calls(done),
            user=done["after"] if present else done["before"],
            licenses_added=done["licenses_added"],
            licenses_removed=done["licenses_removed"],
            sessions_revoked=done["sessions_revoked"],
            password_scrambled=done.get("password_scrambled", False),
        )
        if m.module._diff:
            result["diff"] = {"before": done["before"], "after": done["after"]}
        if p["return_password"] and done.get("password_generated") and not m.check_mode:
            result["password"] = done["password"]
        return result

    def replan(found):
        spec["password"] = spec["password"] if spec["update_password"] == "always" else None
        return make_plan(found, None, svc.manager_of(found) if manager_target else None, skus_before)

    def apply():
        user_id, done = svc.apply_or_adopt(first, replan)
        svc.forget(upn)
        done["after"]["id"] = user_id
        return result_of(done)

    return result_of(first), (apply if first["calls"] else None)


def mailboxes(m):
    """The Exchange reads of this run (only made when a plan would take a user's last licence)."""
    return m.shared("mailboxes", lambda: _exchange.ExchangeService(m.graph, m.exchange))


def mail_guard(m, user):
    """Refuse to take the last licence from a user whose mailbox Exchange shows as a regular user mailbox."""
    mailbox = mailboxes(m).mailbox(user)
    kind = (mailbox or {}).get("RecipientTypeDetails")
    if kind == "UserMailbox":
        raise v.ValidationError(
            "%s has a regular user mailbox in Exchange Online, and taking its last licence deletes that mail once the grace period "
            "ends. Convert the mailbox to shared first (m365_mailbox type: shared, as the offboard_user role does), or set "
            "allow_mail_loss: true if the mail is not to be kept." % user["userPrincipalName"], field="licenses")


def _reserve_seats(skus, planned):
    by_part = dict((s["skuPartNumber"], s) for s in skus)
    for name in planned["licenses_added"]:
        by_part[name]["consumedUnits"] = int(by_part[name].get("consumedUnits", 0)) + 1


if __name__ == "__main__":
    main()
