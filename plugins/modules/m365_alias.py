#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: m365_alias
short_description: Manage the e-mail aliases and primary address of a Microsoft 365 mailbox
version_added: 0.1.0
description:
  - Adds and removes the e-mail addresses (C(smtp:) aliases) of a user's Exchange Online mailbox and chooses its primary
    address (C(SMTP:), the reply address), idempotently.
  - Microsoft Graph cannot write C(proxyAddresses); this module writes C(EmailAddresses) through the Exchange Online admin
    API, the endpoint Microsoft's ExchangeOnlineManagement PowerShell module uses. Microsoft does not document that endpoint.
  - Before any write it checks the address syntax, that every domain is an accepted domain of the Exchange organisation,
    and that no other user already holds an address (the error names who does).
  - Aliases are additive by default. O(exclusive=true) removes the aliases that are not listed, but always keeps the
    primary address and the C(*.onmicrosoft.com) routing address; O(max_removals) guards it.
  - Addresses of other types (C(X500:), C(SIP:), C(SPO:)) are never touched.
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
  aliases:
    description:
      - Alias addresses, bare (V(jane@northwindacct.com)) or with the C(smtp:) prefix.
      - With O(state=present) they are added; with O(state=absent) they are removed.
    type: list
    elements: str
    default: []
  primary:
    description:
      - The address to make the primary (C(SMTP:)) address, the one people see as the sender and reply to.
      - It is added if the mailbox does not have it yet. The previous primary stays as an alias unless O(exclusive=true) and it
        is not listed in O(aliases).
      - Left out, the primary does not change.
    type: str
  state:
    description:
      - V(present) makes sure the listed aliases (and O(primary)) are on the mailbox.
      - V(absent) removes the listed aliases. The primary and the routing address cannot be removed.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove every C(smtp:) alias that is not in O(aliases), except the primary address and
        the C(*.onmicrosoft.com) routing address.
    type: bool
    default: false
  max_removals:
    description:
      - With O(exclusive=true), refuse (before any write) to remove more than this many aliases in one run.
    type: int
    default: 10
  wait_for_mailbox:
    description:
      - Exchange creates a mailbox some minutes after a licence with Exchange Online is assigned. V(true) waits for it
        (up to O(wait_timeout) seconds); V(false) fails with a clear message when the mailbox is not there yet.
      - A user without such a licence fails at once either way.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the mailbox with O(wait_for_mailbox=true).
    type: int
    default: 900
notes:
  - Permissions - the application permission C(Exchange.ManageAsApp) of Office 365 Exchange Online, the Exchange
    Administrator directory role for the application, and the Microsoft Graph application permission C(User.Read.All).
    See docs/permissions.md.
  - Other recipients that own addresses but are not users (groups, contacts) are found by Exchange itself, which refuses
    the change and names the owner.
seealso:
  - module: practiceprotect.m365.m365_user
  - module: practiceprotect.m365.m365_mailbox
  - plugin: practiceprotect.m365.proxy_addresses
    plugin_type: filter
  - plugin: practiceprotect.m365.parse_proxy_addresses
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Three aliases and a chosen primary address for a new starter (waits for the mailbox)
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    primary: jane@northwindacct.com
    aliases:
      - jane.citizen@northwindacct.com
      - j.citizen@northwindacct.com
      - jc@northwindacct.com
    wait_for_mailbox: true

- name: Exactly these aliases; remove any others (at most two)
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    aliases: [jane@northwindacct.com, jc@northwindacct.com]
    exclusive: true
    max_removals: 2

- name: Remove an alias
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    aliases: [j.citizen@northwindacct.com]
    state: absent

- name: Addresses from the Practice Protect attribute form
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    primary: "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).primary }}"
    aliases: "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).aliases }}"
  vars:
    pp_proxy: "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com"
"""

RETURN = r"""
addresses_before:
  description: The mailbox's C(EmailAddresses) before the task.
  returned: always
  type: list
  elements: str
  sample: ["SMTP:jane.citizen@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com"]
addresses_after:
  description: The mailbox's C(EmailAddresses) after the task (read back from Exchange; predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: ["SMTP:jane@northwindacct.com", "smtp:jane.citizen@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com"]
primary:
  description: The primary address after the task.
  returned: always
  type: str
  sample: jane@northwindacct.com
aliases:
  description: Every C(smtp:) address after the task, routing address included.
  returned: always
  type: list
  elements: str
added:
  description: Addresses added (or that would be added).
  returned: always
  type: list
  elements: str
removed:
  description: Addresses removed (or that would be removed).
  returned: always
  type: list
  elements: str
plan:
  description: The cmdlets sent (or, in check mode, that would be sent), with parameter names.
  returned: always
  type: list
  elements: dict
  sample: [{cmdlet: Set-Mailbox, method: POST, path: InvokeCommand, parameters: [EmailAddresses, Identity]}]
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
from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses, _exchange


def main():
    m = M365Module(
        argument_spec=dict(
            user=dict(type="str", required=True, aliases=["upn", "user_principal_name"]),
            aliases=dict(type="list", elements="str", default=[]),
            primary=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            exclusive=dict(type="bool", default=False),
            max_removals=dict(type="int", default=10),
            wait_for_mailbox=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=900),
        ),
        supports_check_mode=True,
    )
    _exchange.run(m, run)


def run(m):
    p = m.params
    spec = _addresses.build_alias_spec(p)
    exo = _exchange.client_for(m)
    user = _exchange.resolve_user(m.graph, spec["user"])
    mailbox, polls = _exchange.wait_for_mailbox(exo, user, p["wait_for_mailbox"], p["wait_timeout"])
    current = mailbox.get("EmailAddresses") or []
    accepted = exo.accepted_domains() if spec["state"] == "present" else []
    adding = _addresses.new_addresses(spec, current)
    owners = _exchange.address_owners(m.graph, adding, user["id"]) if adding else {}
    plan = _addresses.plan_aliases(spec, current, accepted, owners, _exchange.label(user))
    after = plan["after"]
    if plan["calls"] and not m.check_mode:
        for call in plan["calls"]:
            params = {"Identity": user["id"]}
            params.update(call["parameters"])
            exo.invoke(call["cmdlet"], params)
        read_back = exo.get_mailbox(user["id"])
        if read_back is not None:
            after = _addresses.address_view(read_back.get("EmailAddresses") or [])
    for call in plan["calls"]:
        call["parameters"]["Identity"] = user["id"]
    result = dict(
        changed=bool(plan["calls"]),
        addresses_before=plan["before"]["email_addresses"],
        addresses_after=after["email_addresses"],
        primary=after["primary"],
        aliases=after["aliases"],
        added=plan["added"],
        removed=plan["removed"],
        plan=_exchange.public_calls(plan["calls"]),
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
