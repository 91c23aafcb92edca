#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
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
  - O(aliases) takes V(add), V(remove) or V(set), as every list of the collection does; V(set) removes the aliases that are
    not listed, but always keeps the primary address and the C(*.onmicrosoft.com) routing address. O(max_removals) guards
    every removal.
  - Addresses of other types (C(X500:), C(SIP:), C(SPO:)) are never touched.
  - Many mailboxes in one task with O(items) - the users are read with Graph list queries, the accepted domains and the
    owners of the new addresses once for everyone, and each person waits for their own mailbox (O(wait_for_mailbox)).
    Two people of one task cannot be given the same address.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
options:
  user:
    description:
      - UPN or object id of the user whose mailbox this is.
      - Required unless O(items) is given.
    type: str
  aliases:
    description:
      - Alias addresses, bare (V(jane@northwindacct.com)) or with the C(smtp:) prefix, in the collection's list idiom.
      - O(aliases.add) puts addresses on the mailbox and O(aliases.remove) takes them off; O(aliases.set) makes the C(smtp:)
        aliases exactly these and takes precedence. The primary address and the C(*.onmicrosoft.com) routing address are
        never removed.
    type: dict
    suboptions:
      add:
        description: Addresses the mailbox must have.
        type: list
        elements: str
      remove:
        description: Addresses the mailbox must not have (the primary and the routing address cannot be removed).
        type: list
        elements: str
      set:
        description: The only C(smtp:) aliases the mailbox has afterwards, besides the primary and the routing address.
        type: list
        elements: str
  primary:
    description:
      - The address to make the primary (C(SMTP:)) address, the one people see as the sender and reply to.
      - It is added if the mailbox does not have it yet. The previous primary stays as an alias unless O(aliases.set) leaves
        it out.
      - Left out, the primary does not change.
    type: str
  max_removals:
    description:
      - Refuse, before any write, to remove more aliases from one mailbox than this - a count, or a share of the aliases the
        mailbox holds now such as V(50%) (rounded down, at least one).
    type: raw
    default: 10
  wait_for_mailbox:
    description:
      - Exchange creates a mailbox some minutes after a licence with Exchange Online is assigned. V(true) waits for it
        (up to O(wait_timeout) seconds); V(false) fails with a clear message when the mailbox is not there yet.
      - A user without such a licence fails at once with V(false). With V(true) the user is read again for up to a minute
        first, because a licence assigned moments ago can take that long to show on every read.
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
      add:
        - jane.citizen@northwindacct.com
        - j.citizen@northwindacct.com
        - jc@northwindacct.com
    wait_for_mailbox: true

- name: Exactly these aliases; remove any others (at most two)
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    aliases:
      set: [jane.citizen@northwindacct.com, jc@northwindacct.com]
    max_removals: 2

- name: Remove an alias
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    aliases:
      remove: [j.citizen@northwindacct.com]

- name: Aliases for several joiners in one task, each waiting for their own mailbox
  practiceprotect.m365.m365_alias:
    wait_for_mailbox: true
    fail_on_item_error: false
    items:
      - user: jane.citizen@northwindacct.com
        primary: jane@northwindacct.com
        aliases:
          add: [jane.citizen@northwindacct.com, jc@northwindacct.com]
      - user: oliver.brown@northwindacct.com
        aliases:
          add: [oliver@northwindacct.com]
  register: joiner_aliases

- name: Addresses from the Practice Protect attribute form
  practiceprotect.m365.m365_alias:
    user: jane.citizen@northwindacct.com
    primary: "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).primary }}"
    aliases:
      add: "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).aliases }}"
  vars:
    pp_proxy: "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com"
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
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
outcomes:
  description:
    - With O(items), each person's result keyed by the lower-case O(user), with the keys above (C(addresses_before),
      C(addresses_after), C(primary), C(aliases), C(added), C(removed), C(plan), C(mailbox_waits), C(changed)), or C(failed)
      and C(msg).
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

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses, _exchange, _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

ITEM_SPEC = dict(
    user=dict(type="str", required=True),
    aliases=_model.list_option(),
    primary=dict(type="str"),
    max_removals=dict(type="raw", default=10),
    wait_for_mailbox=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=900),
)


def main():
    Module(ITEM_SPEC, services=("graph", "exchange"), items=(ITEM_SPEC, "user"), supports_check_mode=True).run(plan, prefetch)


service = _exchange.service_of  # one ExchangeService per module run: what it reads once serves every person


def prefetch(m, params_list):
    """Everyone's user (Graph list queries), mailbox, the accepted domains and the owners of every address to add."""
    specs = m.specs(_addresses.build_alias_spec, params_list)
    svc = service(m)
    users = svc.read_users([spec["user"] for spec in specs])
    svc.read_mailboxes([user for user in (users.get(spec["user"].lower()) for spec in specs) if user is not None])
    mailboxes = {}
    for spec in specs:
        user = users.get(spec["user"].lower())
        if user is not None:
            mailboxes[spec["user"].lower()] = svc.mailbox(user)
    present = [spec for spec in specs if _addresses.new_addresses(spec, [])]
    if present:
        accepted = svc.accepted_domains()
        adding = []
        for spec in present:
            mailbox = mailboxes.get(spec["user"].lower())
            if mailbox is not None:
                adding += _addresses.on_accepted_domains(_addresses.new_addresses(spec, mailbox.get("EmailAddresses") or []), accepted)
        svc.read_owners(adding)


def plan(m, p):
    """Read and plan one mailbox's addresses; returns ``(result, apply)``."""
    spec = _addresses.build_alias_spec(p)
    svc = service(m)
    user = svc.user(spec["user"])
    mailbox, polls = svc.wait_for_mailbox(user, p["wait_for_mailbox"], p["wait_timeout"])
    current = mailbox.get("EmailAddresses") or []
    accepted = svc.accepted_domains() if _addresses.new_addresses(spec, []) else []
    adding = _addresses.on_accepted_domains(_addresses.new_addresses(spec, current), accepted)
    owners = svc.owners(adding, user["id"]) if adding else {}
    planned = _addresses.plan_aliases(spec, current, accepted, owners, _exchange.label(user))
    svc.claim(planned["added"], user)  # two people of one task cannot get the same address
    for call in planned["calls"]:
        parameters = {"Identity": user["id"]}
        parameters.update(call["parameters"])
        call["parameters"] = parameters

    def result_of(after):
        result = dict(
            changed=bool(planned["calls"]),
            addresses_before=planned["before"]["email_addresses"],
            addresses_after=after["email_addresses"],
            primary=after["primary"],
            aliases=after["aliases"],
            added=planned["added"],
            removed=planned["removed"],
            plan=_exchange.public_calls(planned["calls"]),
            mailbox_waits=polls,
        )
        if m.module._diff:
            result["diff"] = {"before": planned["before"], "after": after}
        return result

    def apply():
        after = planned["after"]
        for call in planned["calls"]:
            svc.client.invoke(call["cmdlet"], call["parameters"])
        read_back = svc.client.get_mailbox(user["id"])
        if read_back is not None:
            after = _addresses.address_view(read_back.get("EmailAddresses") or [])
        return result_of(after)

    return result_of(planned["after"]), (apply if planned["calls"] else None)


if __name__ == "__main__":
    main()
