#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_access
short_description: Close a person's ways into their Microsoft 365 account and mail - authentication methods, mobile devices, forwarding rules
version_added: 0.1.0
description:
  - Removes a user's authentication methods (phone, Microsoft Authenticator, FIDO2 security keys, software OATH tokens, email,
    Windows Hello for Business, Temporary Access Pass, platform credentials) through Microsoft Graph's authentication-methods API.
    Graph cannot remove the password method (scramble the password instead, M(practiceprotect.m365.m365_user)
    O(practiceprotect.m365.m365_user#module:scramble_password)); it is kept and named in RV(authentication_methods_kept),
    as are kinds Graph v1.0 has no delete for.
  - Graph refuses to remove the user's default method while other methods remain; v1.0 does not say which method is the
    default, so a method refused that way is removed again once the others are gone.
  - Removes the mobile devices that sync with the user's mailbox (Exchange Online C(Get-MobileDevice), C(Remove-MobileDevice)).
  - Disables the inbox rules that forward, redirect or forward as attachment to an address outside the tenant (a domain that
    is not one of the tenant's accepted domains), and lists them (Graph C(messageRules), C(isEnabled=false)). Rules are
    disabled, not deleted, so what the person had set up stays visible. A rule Graph marks read-only is listed as kept.
  - O(authentication_methods) and O(mobile_devices) take the collection's list actions V(remove) and V(set) (V(set=[]) removes
    everything removable); V(add) is refused, since people register their own methods and devices. Every removal is guarded
    by O(max_removals).
  - Idempotent - a re-run finds nothing left to remove or disable and sends no write. Many people in one task with O(items).
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
options:
  user:
    description:
      - UPN or object id of the person.
      - Required unless O(items) is given.
    type: str
  authentication_methods:
    description:
      - The person's authentication methods, by kind - V(phone), V(microsoftAuthenticator), V(fido2), V(softwareOath), V(email),
        V(windowsHelloForBusiness), V(temporaryAccessPass), V(platformCredential).
      - Left out, no method is touched.
    type: dict
    suboptions:
      add:
        description: Not supported - people register their own methods at https://aka.ms/mysecurityinfo.
        type: list
        elements: str
      remove:
        description: Remove every method of these kinds.
        type: list
        elements: str
      set:
        description: Keep only methods of these kinds; V([]) removes every method Graph can remove.
        type: list
        elements: str
  mobile_devices:
    description:
      - The mobile devices of the person's mailbox, by their C(DeviceId) (or C(Identity)) as Exchange lists them.
      - Left out, no device is touched. A person without a mailbox has none.
    type: dict
    suboptions:
      add:
        description: Not supported - devices appear when they first sync with the mailbox.
        type: list
        elements: str
      remove:
        description: Remove these devices (devices the mailbox does not have are skipped).
        type: list
        elements: str
      set:
        description: Keep only these devices; V([]) removes them all.
        type: list
        elements: str
  disable_external_forwarding_rules:
    description:
      - Disable the inbox rules that forward or redirect mail outside the tenant, and list them.
    type: bool
    default: false
  max_removals:
    description:
      - Refuse (before any write) to remove more authentication methods, or more mobile devices, than this from one person in one run.
      - A number, or a share of what the person holds now, such as V(100%) (rounded down, at least 1).
    type: raw
    default: 10
notes:
  - Permissions - the Microsoft Graph application permissions C(User.Read.All), C(UserAuthenticationMethod.ReadWrite.All)
    (authentication methods) and C(MailboxSettings.ReadWrite) (inbox rules), and for mobile devices and the accepted domains
    the application permission C(Exchange.ManageAsApp) of Office 365 Exchange Online with the Exchange Administrator
    directory role. See docs/permissions.md.
  - Removing the methods of a user who holds an admin role may need a directory role on the application (Privileged
    Authentication Administrator), as resetting such a user's password does.
seealso:
  - module: practiceprotect.m365.m365_user
  - module: practiceprotect.m365.m365_mailbox
"""

EXAMPLES = r"""
- name: A leaver - every authentication method and mobile device removed, forwarding outside the tenant disabled
  practiceprotect.m365.m365_access:
    user: tom.baker@northwindacct.com
    authentication_methods:
      set: []
    mobile_devices:
      set: []
    disable_external_forwarding_rules: true
    max_removals: 100%
  register: access

- name: Show the rules that forwarded mail outside
  ansible.builtin.debug:
    msg: "{{ access.forwarding_rules_disabled | map(attribute='name') | list }}"

- name: Only the phone numbers go (for example a lost phone)
  practiceprotect.m365.m365_access:
    user: sarah.jones@northwindacct.com
    authentication_methods:
      remove: [phone]

- name: Several people in one task - forwarding rules only
  practiceprotect.m365.m365_access:
    disable_external_forwarding_rules: true
    fail_on_item_error: false
    items:
      - user: tom.baker@northwindacct.com
      - user: sarah.jones@northwindacct.com
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
authentication_methods:
  description: The person's authentication methods after the task (predicted in check mode), each C(id), C(kind) and C(detail).
  returned: when O(authentication_methods) is given
  type: list
  elements: dict
  sample: [{id: 28c10230-6103-485e-b985-444c60001490, kind: password, detail: ""}]
authentication_methods_removed:
  description: The methods removed (or, in check mode, that would be), each C(id), C(kind) and C(detail).
  returned: always
  type: list
  elements: dict
  sample: [{id: 3179e48a-750b-4051-897c-87b9720928f7, kind: phone, detail: mobile}]
authentication_methods_kept:
  description: Methods Graph cannot remove, left in place, each with its C(reason) (the password method always).
  returned: always
  type: list
  elements: dict
mobile_devices:
  description: The mailbox's mobile devices after the task, each C(identity), C(device_id), C(model), C(type) and C(name).
  returned: when O(mobile_devices) is given and the person has a mailbox
  type: list
  elements: dict
mobile_devices_removed:
  description: The mobile devices removed (or that would be).
  returned: always
  type: list
  elements: dict
forwarding_rules:
  description:
    - Every inbox rule that forwards or redirects outside the tenant, after the task - C(id), C(name), C(enabled), C(to) (the
      outside addresses) and C(read_only).
  returned: when O(disable_external_forwarding_rules=true) and the person has a mailbox
  type: list
  elements: dict
  sample: [{id: AQAAAJ5dZqA=, name: Forward to my Gmail, enabled: false, to: [tom.baker.home@gmail.com], read_only: false}]
forwarding_rules_disabled:
  description: The rules the task disabled (or would), in the shape of RV(forwarding_rules).
  returned: always
  type: list
  elements: dict
forwarding_rules_kept:
  description: Enabled rules that forward outside but that Graph cannot change (read-only), each with its C(reason).
  returned: always
  type: list
  elements: dict
mailbox:
  description: Whether the person has an Exchange Online mailbox (only read when mobile devices or rules were asked for).
  returned: always
  type: bool
plan:
  description: The calls sent (or, in check mode, that would be sent) - Graph method and path, or cmdlet and parameter names.
  returned: always
  type: list
  elements: dict
  sample: [{method: DELETE, path: /users/c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7,
            fields: []}]
outcomes:
  description:
    - With O(items), each person's result keyed by the lower-case O(user), with the keys above and C(changed), or C(failed) and C(msg).
  returned: with items
  type: dict
failed_items:
  description: With O(items), the users whose plan or calls failed.
  returned: with items
  type: list
  elements: str
graph_requests:
  description: How many Microsoft Graph requests the task sent (a C($batch) request counts once).
  returned: always
  type: int
exchange_requests:
  description: How many requests the task sent to Exchange Online.
  returned: always
  type: int
retries:
  description: How many requests were retried (throttling, 5xx, resets).
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

import functools

from ansible_collections.practiceprotect.m365.plugins.module_utils import _access, _exchange, _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

# (duplicates: ITEM_SPEC, main and service take the same one-line forms as the other Exchange modules'; the plan is this module's own)
ITEM_SPEC = dict(
    user=dict(type="str", required=True),
    authentication_methods=_model.list_option(),
    mobile_devices=_model.list_option(),
    disable_external_forwarding_rules=dict(type="bool", default=False),
    max_removals=dict(type="raw", default=10),
)


def main():
    Module(ITEM_SPEC, services=("graph", "exchange"), items=(ITEM_SPEC, "user"), supports_check_mode=True).run(plan, prefetch)


service = _exchange.service_of  # one ExchangeService per module run: what it reads once serves every person


def prefetch(m, params_list):
    """Everyone's user with Graph list queries, then (for devices and rules) each mailbox, then each person's methods,
    devices and rules all at once (``Module.concurrently``: Graph's in ``$batch`` requests); ``plan`` takes them from there."""
    specs = m.specs(_access.build_spec, params_list)
    svc = service(m)
    users = svc.read_users([spec["user"] for spec in specs])
    mailbox_specs = [spec for spec in specs if spec["devices"].given or spec["rules"]]
    svc.read_mailboxes([u for u in (users.get(spec["user"].lower()) for spec in mailbox_specs) if u is not None])
    keys = []
    for spec in specs:
        user = users.get(spec["user"].lower())
        if user is not None:
            keys.extend(reads(spec, svc.mailbox(user) if spec["devices"].given or spec["rules"] else None, user["id"]))
    svc.read_each(keys, functools.partial(read, m), m.concurrently)


def reads(spec, mailbox, user_id):
    """The reads the plan of one person makes, in its order: ``(kind, user id)``."""
    kinds = [("methods", spec["methods"].given), ("devices", spec["devices"].given and mailbox), ("rules", spec["rules"] and mailbox)]
    return [(kind, user_id) for kind, wanted in kinds if wanted]


def read(m, key):
    """One read of a person: their authentication methods (Graph), mobile devices (Exchange) or inbox rules (Graph)."""
    kind, user_id = key
    if kind == "methods":
        return m.graph.list("users/%s/authentication/methods" % user_id)
    if kind == "devices":
        return m.exchange.mobile_devices(user_id)
    return m.graph.list(_access.RULES_PATH % user_id)


def plan(m, p):
    """Read and plan one person; returns ``(result, apply)``."""
    spec = _access.build_spec(p)
    svc = service(m)
    user = svc.user(spec["user"])
    wants_mailbox = spec["devices"].given or spec["rules"]
    mailbox = svc.mailbox(user) if wants_mailbox else None
    answers = {"methods": None, "devices": None, "rules": None}
    accepted = set()
    for key in reads(spec, mailbox, user["id"]):
        if key[0] == "rules":
            accepted = set(d.lower() for d in svc.accepted_domains() if d)
        answers[key[0]] = svc.each(key, functools.partial(read, m))
    methods, devices, rules = answers["methods"], answers["devices"], answers["rules"]
    planned = _access.plan_access(spec, user, methods, devices, rules, accepted)
    who = user.get("userPrincipalName") or user["id"]

    def result_of(after):
        result = dict(
            changed=bool(planned["calls"]),
            authentication_methods_removed=planned["methods_removed"],
            authentication_methods_kept=planned["methods_kept"],
            mobile_devices_removed=planned["devices_removed"],
            forwarding_rules_disabled=planned["rules_disabled"],
            forwarding_rules_kept=planned["rules_kept"],
            mailbox=bool(mailbox),
            plan=_access.public_calls(planned["calls"]),
        )
        for key in ("authentication_methods", "mobile_devices", "forwarding_rules"):
            if key in after:
                result[key] = after[key]
        if m.module._diff:
            result["diff"] = {"before": planned["before"], "after": after}
        return result

    def apply():
        _access.apply_calls(m.graph, m.exchange, planned["calls"], who)
        return result_of(planned["after"])

    return result_of(planned["after"]), (apply if planned["calls"] else None)


if __name__ == "__main__":
    main()
