#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: m365_mailbox
short_description: Convert a Microsoft 365 mailbox to shared or regular, set forwarding, hide it, grant full access
version_added: 0.1.0
description:
  - Manages a user's Exchange Online mailbox, idempotently - its type (shared or regular), forwarding to an SMTP address
    (with or without keeping a copy), whether it is hidden from address lists, and who has full access to it.
  - Offboarding converts a leaver's mailbox to shared B(before) the licences go, or the mail is lost. A conversion is only
    reported done once Exchange shows the new type; the task waits for it (up to O(wait_timeout) seconds) and fails
    otherwise, so a following licence removal never runs too early.
  - O(full_access) is additive by default; O(full_access_remove) takes access away; O(full_access_exclusive=true) removes
    everyone not listed, guarded by O(max_removals).
  - Writes go through the Exchange Online admin API, the endpoint Microsoft's ExchangeOnlineManagement PowerShell module
    uses. Microsoft does not document that endpoint.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.attributes.ACTIONS
options:
  user:
    description:
      - UPN or object id of the user whose mailbox this is.
    type: str
    required: true
    aliases: [upn, user_principal_name]
  type:
    description:
      - V(shared) converts the mailbox to a shared mailbox (it then needs no licence while it stays under 50 GB);
        V(regular) converts it back to a user mailbox. Left out, the type does not change.
    type: str
    choices: [shared, regular]
  forwarding_address:
    description:
      - Forward the mailbox's mail to this SMTP address (inside or outside the organisation).
      - An empty string stops forwarding. Left out, forwarding does not change.
    type: str
  forwarding_keep_copy:
    description:
      - With forwarding, also keep a copy in the mailbox (Exchange's C(DeliverToMailboxAndForward)).
    type: bool
  hidden_from_address_lists:
    description: Hide the mailbox from the global address list (and so from people picking recipients).
    type: bool
  full_access:
    description:
      - Users (UPN or object id) who must have full access to the mailbox. Additive unless O(full_access_exclusive=true).
    type: list
    elements: str
  full_access_remove:
    description: Users (UPN or object id) whose full access to the mailbox is taken away.
    type: list
    elements: str
  full_access_exclusive:
    description:
      - Take full access away from every user not in O(full_access). Needs O(full_access) (an empty list removes everyone).
    type: bool
    default: false
  max_removals:
    description:
      - Refuse (before any write) to take full access away from more than this many users in one run.
    type: int
    default: 10
  auto_mapping:
    description: Whether Outlook opens the mailbox automatically for users given full access.
    type: bool
    default: true
  wait_for_mailbox:
    description:
      - Wait (up to O(wait_timeout) seconds) for Exchange to create the mailbox of a newly licensed user, instead of failing.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the mailbox (O(wait_for_mailbox=true)) and for a type conversion to show in Exchange.
    type: int
    default: 900
notes:
  - Permissions - the application permission C(Exchange.ManageAsApp) of Office 365 Exchange Online, the Exchange
    Administrator directory role for the application, and the Microsoft Graph application permission C(User.Read.All).
    See docs/permissions.md.
  - In check mode the task does not wait for a conversion; it reports that it would convert.
seealso:
  - module: practiceprotect.m365.m365_alias
  - module: practiceprotect.m365.m365_user
"""

EXAMPLES = r"""
- name: A leaver - shared mailbox (waits until Exchange shows it), hidden, forwarded to the manager with a copy kept
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    type: shared
    hidden_from_address_lists: true
    forwarding_address: sarah.jones@northwindacct.com
    forwarding_keep_copy: true
    full_access: [sarah.jones@northwindacct.com]

- name: Only then take the licences back
  practiceprotect.m365.m365_user:
    user_principal_name: tom.baker@northwindacct.com
    licenses: []
    purge_licenses: true

- name: Stop forwarding
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    forwarding_address: ""

- name: Exactly these people have full access (at most one removal)
  practiceprotect.m365.m365_mailbox:
    user: reception@northwindacct.com
    full_access: [sarah.jones@northwindacct.com]
    full_access_exclusive: true
    max_removals: 1
"""

RETURN = r"""
mailbox:
  description: The mailbox after the task (predicted in check mode).
  returned: always
  type: dict
  sample:
    type: shared
    recipient_type_details: SharedMailbox
    primary_smtp_address: tom.baker@northwindacct.com
    forwarding_address: sarah.jones@northwindacct.com
    forwarding_keep_copy: true
    hidden_from_address_lists: true
    full_access: [sarah.jones@northwindacct.com]
converted:
  description: Whether the task converted the mailbox, and Exchange now shows the new type (false in check mode).
  returned: always
  type: bool
full_access_granted:
  description: UPNs given full access.
  returned: always
  type: list
  elements: str
full_access_removed:
  description: UPNs whose full access was taken away.
  returned: always
  type: list
  elements: str
plan:
  description: The cmdlets sent (or, in check mode, that would be sent), with parameter names.
  returned: always
  type: list
  elements: dict
  sample: [{cmdlet: Set-Mailbox, method: POST, path: InvokeCommand, parameters: [Identity, Type]}]
conversion_waits:
  description: How many times the task polled Exchange for a conversion to show.
  returned: always
  type: int
mailbox_waits:
  description: How many times the task polled Exchange for the mailbox.
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
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import M365Module
from ansible_collections.practiceprotect.m365.plugins.module_utils import _exchange


def main():
    m = M365Module(
        argument_spec=dict(
            user=dict(type="str", required=True, aliases=["upn", "user_principal_name"]),
            type=dict(type="str", choices=["shared", "regular"]),
            forwarding_address=dict(type="str"),
            forwarding_keep_copy=dict(type="bool"),
            hidden_from_address_lists=dict(type="bool"),
            full_access=dict(type="list", elements="str"),
            full_access_remove=dict(type="list", elements="str"),
            full_access_exclusive=dict(type="bool", default=False),
            max_removals=dict(type="int", default=10),
            auto_mapping=dict(type="bool", default=True),
            wait_for_mailbox=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=900),
        ),
        supports_check_mode=True,
    )
    _exchange.run(m, run)


def run(m):
    p = m.params
    spec = _exchange.build_mailbox_spec(p)
    exo = _exchange.client_for(m)
    owner = _exchange.resolve_user(m.graph, spec["user"])
    mailbox, polls = _exchange.wait_for_mailbox(exo, owner, p["wait_for_mailbox"], p["wait_timeout"])
    full_access = exo.full_access(owner["id"]) if spec["permissions"] else None
    trustees = {}
    for key in spec["grant"] + spec["revoke"]:
        trustees[key.lower()] = _exchange.lookup_user(m.graph, key)
    plan = _exchange.plan_mailbox(spec, mailbox, full_access, trustees, owner)
    after = plan["after"]
    converted = False
    waits = 0
    if plan["calls"] and not m.check_mode:
        for call in plan["calls"]:
            exo.invoke(call["cmdlet"], call["parameters"])
        if plan["conversion"]:
            mailbox, waits = _exchange.wait_for_type(exo, owner["id"], plan["conversion"], p["wait_timeout"])
            converted = True
        else:
            mailbox = exo.get_mailbox(owner["id"]) or mailbox
        after = _exchange.mailbox_view(mailbox, exo.full_access(owner["id"]) if spec["permissions"] else None)
    result = dict(
        changed=bool(plan["calls"]),
        mailbox=after,
        converted=converted,
        full_access_granted=plan["granted"],
        full_access_removed=plan["revoked"],
        plan=_exchange.public_calls(plan["calls"]),
        conversion_waits=waits,
        mailbox_waits=polls,
        exchange_requests=exo.requests_sent,
    )
    if m.module._diff:
        result["diff"] = {"before": plan["before"], "after": after}
    for warning in exo.warnings:
        m.module.warn("Exchange Online: %s" % warning)
    m.exit(**result)


if __name__ == "__main__":
    main()
