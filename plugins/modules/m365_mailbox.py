#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: m365_mailbox
short_description: Convert a Microsoft 365 mailbox to shared or regular, set forwarding and automatic replies, hide it, grant full access
version_added: 0.1.0
description:
  - Manages a user's Exchange Online mailbox, idempotently - its type (shared or regular), forwarding to an SMTP address
    (with or without keeping a copy), its automatic reply (out of office), whether it is hidden from address lists, and who
    has full access to it.
  - Offboarding converts a leaver's mailbox to shared B(before) the licences go, or the mail is lost. A conversion is only
    reported done once Exchange shows the new type; the task waits for it (up to O(wait_timeout) seconds) and fails
    otherwise, so a following licence removal never runs too early.
  - O(full_access) takes the collection's list actions - V(add), V(remove), V(set) (exactly these users) - and every
    removal is guarded by O(max_removals).
  - Writes go through the Exchange Online admin API, the endpoint Microsoft's ExchangeOnlineManagement PowerShell module
    uses. Microsoft does not document that endpoint.
  - Many mailboxes in one task with O(items) - the users and everyone given or losing full access are read with Graph
    list queries once for all; each mailbox, its permissions and a conversion are still read and waited for one by one.
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
      - Users (UPN or object id) with full access to the mailbox.
      - Left out, nobody's access changes.
    type: dict
    suboptions:
      add:
        description: Give these users full access; others keep theirs.
        type: list
        elements: str
      remove:
        description: Take full access away from these users (users who do not have it, or are not in the tenant, are skipped).
        type: list
        elements: str
      set:
        description:
          - Exactly these users have full access; everyone else loses it. V([]) takes it from everyone.
          - Takes precedence over O(full_access.add) and O(full_access.remove).
        type: list
        elements: str
  max_removals:
    description:
      - Refuse (before any write) to take full access away from more users than this in one run.
      - A number, or a share of the users who hold full access now, such as V(50%) (rounded down, at least 1).
    type: raw
    default: 10
  auto_mapping:
    description: Whether Outlook opens the mailbox automatically for users given full access.
    type: bool
    default: true
  auto_reply:
    description:
      - The mailbox's automatic reply (out of office), set with Exchange's C(Set-MailboxAutoReplyConfiguration). Left out, it does
        not change.
      - Compared with what Exchange holds (texts without their HTML, times in UTC), so a re-run changes nothing.
      - With O(auto_reply.start) and O(auto_reply.end) the reply is scheduled; without them it starts now and stays on.
    type: dict
    suboptions:
      enabled:
        description: V(false) switches automatic replies off (the texts are then not needed).
        type: bool
        default: true
      internal_message:
        description: The reply people in the organisation get. Required when O(auto_reply.enabled=true).
        type: str
      external_message:
        description: The reply senders outside the organisation get. Left out, the internal one.
        type: str
      external_audience:
        description: Which outside senders get a reply - V(all), V(known) (contacts only) or V(none).
        type: str
        choices: [none, known, all]
        default: all
      start:
        description: When the scheduled reply starts, an ISO 8601 time with its zone, such as V(2026-12-24T17:00:00+11:00).
        type: str
      end:
        description: When the scheduled reply ends (after O(auto_reply.start)), an ISO 8601 time with its zone.
        type: str
  wait_for_mailbox:
    description:
      - Wait (up to O(wait_timeout) seconds) for Exchange to create the mailbox of a newly licensed user, instead of failing.
      - A user whose licence does not show yet is read again for up to a minute (a licence assigned moments ago can take
        that long to replicate) before the missing licence is reported.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the mailbox (O(wait_for_mailbox=true)) and for a type conversion to show in Exchange.
    type: int
    default: 900
notes:
  - The automatic reply goes through the same Exchange Online endpoint as CIPP's offboarding uses for it
    (C(Set-MailboxAutoReplyConfiguration)), so it needs no permission beyond the module's own; Graph's C(mailboxSettings)
    would need C(MailboxSettings.ReadWrite) as well.
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
    full_access:
      add: [sarah.jones@northwindacct.com]

- name: Only then take the licences back
  practiceprotect.m365.m365_user:
    user: tom.baker@northwindacct.com
    licenses:
      set: []

- name: Several leavers in one task - shared, hidden, and their manager gets full access
  practiceprotect.m365.m365_mailbox:
    type: shared
    hidden_from_address_lists: true
    fail_on_item_error: false
    items:
      - user: tom.baker@northwindacct.com
        full_access: {add: [sarah.jones@northwindacct.com]}
      - user: priya.patel@northwindacct.com
        full_access: {add: [sarah.jones@northwindacct.com]}
        forwarding_address: sarah.jones@northwindacct.com
  register: leavers

- name: A leaver's automatic reply, inside and outside, for the notice period
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    auto_reply:
      internal_message: Tom has left Northwind Accounting. Please contact Sarah Jones.
      external_message: Tom Baker has left Northwind Accounting. Sarah Jones (sarah.jones@northwindacct.com) looks after his clients.
      start: "2026-12-24T17:00:00+11:00"
      end: "2027-03-31T17:00:00+11:00"

- name: Switch the automatic reply off
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    auto_reply:
      enabled: false

- name: Stop forwarding
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    forwarding_address: ""

- name: Exactly these people have full access (at most one removal)
  practiceprotect.m365.m365_mailbox:
    user: reception@northwindacct.com
    full_access:
      set: [sarah.jones@northwindacct.com]
    max_removals: 1

- name: Take full access away from one user, leaving the others
  practiceprotect.m365.m365_mailbox:
    user: tom.baker@northwindacct.com
    full_access:
      remove: [sarah.jones@northwindacct.com]
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
mailbox_before:
  description: The mailbox as the task found it, in the shape of RV(mailbox).
  returned: always
  type: dict
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
    auto_reply: {state: scheduled, internal_message: Tom has left., external_message: Tom has left., external_audience: all,
                 start: "2026-12-24T06:00:00Z", end: "2027-03-31T06:00:00Z"}
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
outcomes:
  description:
    - With O(items), each person's result keyed by the lower-case O(user), with the keys above (C(mailbox), C(converted),
      C(full_access_granted), C(full_access_removed), C(plan), C(conversion_waits), C(mailbox_waits), C(changed)), or
      C(failed) and C(msg).
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

from ansible_collections.practiceprotect.m365.plugins.module_utils import _exchange, _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

ITEM_SPEC = dict(
    user=dict(type="str", required=True),
    type=dict(type="str", choices=["shared", "regular"]),
    forwarding_address=dict(type="str"),
    forwarding_keep_copy=dict(type="bool"),
    hidden_from_address_lists=dict(type="bool"),
    full_access=_model.list_option(),
    max_removals=dict(type="raw", default=10),
    auto_mapping=dict(type="bool", default=True),
    auto_reply=dict(type="dict", options=dict(
        enabled=dict(type="bool", default=True),
        internal_message=dict(type="str"),
        external_message=dict(type="str"),
        external_audience=dict(type="str", choices=["none", "known", "all"], default="all"),
        start=dict(type="str"),
        end=dict(type="str"),
    )),
    wait_for_mailbox=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=900),
)


def main():
    Module(ITEM_SPEC, services=("graph", "exchange"), items=(ITEM_SPEC, "user"), supports_check_mode=True).run(plan, prefetch)


service = _exchange.service_of  # one ExchangeService per module run: what it reads once serves every person


def prefetch(m, params_list):
    """Everyone's user and the users given or losing full access (Graph list queries), then each mailbox, then each
    person's full-access list and automatic reply all at once (``Module.concurrently``); ``plan`` takes them from there."""
    specs = m.specs(_exchange.build_mailbox_spec, params_list)
    svc = service(m)
    users = svc.read_users([spec["user"] for spec in specs] + [key for spec in specs for key in spec["trustees"]])
    svc.read_mailboxes([owner for owner in (users.get(spec["user"].lower()) for spec in specs) if owner is not None])
    keys = []
    for spec in specs:
        owner = users.get(spec["user"].lower())
        if owner is not None:
            keys.extend(reads(spec, owner["id"]))
    svc.read_each(keys, functools.partial(read, svc.client), m.concurrently)  # each person's permissions and automatic reply, at once


def reads(spec, owner_id):
    """The per-person reads the plan makes: ``(kind, user id)``."""
    return [(kind, owner_id) for kind, wanted in (("full_access", spec["permissions"]), ("auto_reply", spec["auto_reply"] is not None)) if wanted]


def read(exo, key):
    """One read of a person's mailbox: who has full access (Get-MailboxPermission) or its automatic reply."""
    kind, owner_id = key
    return exo.full_access(owner_id) if kind == "full_access" else exo.auto_reply(owner_id)


def plan(m, p):
    """Read and plan one mailbox; returns ``(result, apply)``."""
    spec = _exchange.build_mailbox_spec(p)
    svc = service(m)
    exo = svc.client
    svc.read_users([spec["user"]] + spec["trustees"])  # one query (none after prefetch)
    owner = svc.user(spec["user"])
    mailbox, polls = svc.wait_for_mailbox(owner, p["wait_for_mailbox"], p["wait_timeout"])
    full_access = svc.each(("full_access", owner["id"]), functools.partial(read, exo)) if spec["permissions"] else None
    trustees = dict((key.lower(), svc.lookup(key)) for key in spec["trustees"])
    auto_reply = svc.each(("auto_reply", owner["id"]), functools.partial(read, exo)) if spec["auto_reply"] is not None else None
    planned = _exchange.plan_mailbox(spec, mailbox, full_access, trustees, owner, auto_reply=auto_reply)

    def result_of(after, converted=False, waits=0):
        result = dict(
            changed=bool(planned["calls"]),
            mailbox=after,
            mailbox_before=planned["before"],
            converted=converted,
            full_access_granted=planned["granted"],
            full_access_removed=planned["revoked"],
            plan=_exchange.public_calls(planned["calls"]),
            conversion_waits=waits,
            mailbox_waits=polls,
        )
        if m.module._diff:
            result["diff"] = {"before": planned["before"], "after": after}
        return result

    def apply():
        for call in planned["calls"]:
            exo.invoke(call["cmdlet"], call["parameters"])
        if planned["conversion"]:
            now, waits = _exchange.wait_for_type(exo, owner["id"], planned["conversion"], p["wait_timeout"])
        else:
            now, waits = exo.get_mailbox(owner["id"]) or mailbox, 0
        after = _exchange.mailbox_view(now, exo.full_access(owner["id"]) if spec["permissions"] else None)
        if spec["auto_reply"] is not None:
            after["auto_reply"] = _exchange.auto_reply_view(exo.auto_reply(owner["id"])) or {"state": "disabled"}
        return result_of(after, converted=bool(planned["conversion"]), waits=waits)

    return result_of(planned["after"]), (apply if planned["calls"] else None)


if __name__ == "__main__":
    main()
