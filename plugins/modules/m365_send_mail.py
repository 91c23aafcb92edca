#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: m365_send_mail
short_description: Send e-mail from a Microsoft 365 mailbox
version_added: 0.1.0
description:
  - Sends one message from the Exchange Online mailbox of O(sender) through Microsoft Graph (C(sendMail)), for example the
    activation mail that gives a joiner's first password to their personal address or to their manager.
  - Sending is an action, not a state. The module cannot tell whether the same message went out before, so every run that
    is not in check mode sends it again and reports C(changed). Guard the task with C(when) (for example on the result of
    the task that created the account) so that re-runs do not mail people twice.
  - Checks every input before any call (addresses with the collection's e-mail validation) and checks that the sender is a
    user of the tenant before sending.
  - In check mode the module checks the input and the sender, reports C(changed) with the plan and sends nothing. In diff
    mode it shows the sender, recipients and subject of the message.
  - O(body) is never printed, returned, logged or shown in a diff, since it may hold a password.
  - Many messages in one task with O(items), each its own message named by O(label) (for example the joiner each one is
    for); a message that fails is reported in RV(outcomes) and the others go out.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
attributes:
  check_mode:
    details: Checks the input and the sender, and reports C(changed) with the plan; nothing is sent.
  diff_mode:
    details: The diff shows the sender, recipients and subject; never the body.
options:
  label:
    description:
      - With O(items), the name of each message, unique among the items (for example the UPN of the joiner it is for);
        RV(outcomes) is keyed by it. A single message may leave it out.
    type: str
  sender:
    description:
      - UPN (or object id) of the user whose mailbox sends the message. It needs an Exchange Online mailbox (a licence that
        includes Exchange); a shared mailbox works too.
      - Required unless O(items) gives it per message.
    type: str
  to:
    description: Recipient addresses. At least one. Required unless O(items) gives them per message.
    type: list
    elements: str
  cc:
    description: Addresses that get a copy.
    type: list
    elements: str
    default: []
  subject:
    description: Subject line. Required unless O(items) gives it per message.
    type: str
  body:
    description:
      - Text of the message, plain text or HTML (O(body_type)). Never printed or returned. Set C(no_log) on the task as well
        when the text comes from a variable that holds a secret, so that Ansible does not show the variable elsewhere.
      - Required unless O(items) gives it per message.
    type: str
  body_type:
    description: Whether O(body) is plain text or HTML.
    type: str
    choices: [text, html]
    default: text
  save_to_sent_items:
    description:
      - Keep a copy in the sender's Sent Items folder. Off by default, so that a password sent by mail does not stay in a
        shared mailbox.
    type: bool
    default: false
notes:
  - Permissions (application) - C(User.Read.All) to check the sender and C(Mail.Send) to send. C(Mail.Send) lets the
    application send as any mailbox of the tenant; an Exchange Online application access policy can narrow it to the
    sending mailbox. See docs/permissions.md.
  - Graph answers C(202 Accepted) once Exchange Online has taken the message; delivery follows. A message refused later
    (for example by the recipient's server) comes back to the sender's mailbox as a non-delivery report.
  - Connection failures are retried. When a retry follows a failure Microsoft 365 may already have acted on (a reset
    connection or a gateway timeout), the module warns that the message may arrive twice.
seealso:
  - module: practiceprotect.m365.m365_user
"""

EXAMPLES = r"""
- name: Create the joiner with a generated password
  practiceprotect.m365.m365_user:
    user_principal_name: jane.citizen@northwindacct.com
    given_name: Jane
    surname: Citizen
    return_password: true
  register: joiner
  no_log: true

- name: Send the activation mail to the joiner's personal address (only when the account was just created)
  practiceprotect.m365.m365_send_mail:
    sender: it.onboarding@northwindacct.com
    to:
      - jane.personal@example.org
    cc:
      - sarah.jones@northwindacct.com
    subject: Your Northwind Accounting account
    body: |
      Hello Jane,

      Your account is jane.citizen@northwindacct.com and your first password is {{ joiner.password }}
      You will choose a new password when you first sign in at https://portal.office.com.
  when: joiner.action == 'create' and joiner.password is defined
  no_log: true

- name: Create two joiners with generated passwords
  practiceprotect.m365.m365_user:
    return_password: true
    items:
      - user_principal_name: mia.chen@northwindacct.com
        display_name: Mia Chen
      - user_principal_name: oliver.brown@northwindacct.com
        display_name: Oliver Brown
  register: joiners
  no_log: true

- name: Activation mails for several joiners in one task (each message named by its joiner)
  practiceprotect.m365.m365_send_mail:
    sender: it.onboarding@northwindacct.com
    subject: Your Northwind Accounting account
    fail_on_item_error: false
    items:
      - label: mia.chen@northwindacct.com
        to: [mia.personal@example.org]
        body: "Your account is mia.chen@northwindacct.com and your first password is {{ joiners.outcomes['mia.chen@northwindacct.com'].password }}"
      - label: oliver.brown@northwindacct.com
        to: [oliver.personal@example.org]
        body: "Your account is oliver.brown@northwindacct.com and your first password is {{ joiners.outcomes['oliver.brown@northwindacct.com'].password }}"
  when: joiners.changed
  no_log: true

- name: An HTML notice, kept in the sender's Sent Items
  practiceprotect.m365.m365_send_mail:
    sender: it.onboarding@northwindacct.com
    to: [sarah.jones@northwindacct.com]
    subject: Jane Citizen starts on Monday
    body: "<p>Jane Citizen starts on <b>Monday</b>. Her account is ready.</p>"
    body_type: html
    save_to_sent_items: true
"""

RETURN = r"""
outcomes:
  description: With O(items), each message's result (C(sent), C(message), C(plan), or C(failed) and C(msg)), by lower-case O(label).
  returned: with O(items)
  type: dict
failed_items:
  description: With O(items), the labels of the messages that failed.
  returned: with O(items)
  type: list
  elements: str
sent:
  description: Whether the message was sent (false in check mode).
  returned: always
  type: bool
  sample: true
message:
  description: The message as sent (or, in check mode, as it would be sent), without its body.
  returned: always
  type: dict
  sample:
    sender: it.onboarding@northwindacct.com
    to: [jane.personal@example.org]
    cc: [sarah.jones@northwindacct.com]
    subject: Your Northwind Accounting account
    body_type: text
plan:
  description: The call made (or, in check mode, that would be made), with field names but never values.
  returned: always
  type: list
  elements: dict
  sample:
    - op: send
      method: POST
      path: /users/it.onboarding@northwindacct.com/sendMail
      fields: [message.subject, message.body, message.toRecipients, message.ccRecipients, saveToSentItems]
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

from ansible_collections.practiceprotect.m365.plugins.module_utils import _mail

ITEM_SPEC = dict(
    label=dict(type="str"),
    sender=dict(type="str"),
    to=dict(type="list", elements="str"),
    cc=dict(type="list", elements="str", default=[]),
    subject=dict(type="str"),
    body=dict(type="str", no_log=True),
    body_type=dict(type="str", default="text", choices=["text", "html"]),
    save_to_sent_items=dict(type="bool", default=False),
)


def main():
    m = _mail.MailModule(argument_spec=ITEM_SPEC, items=(ITEM_SPEC, "label"), supports_check_mode=True, label_optional=True)
    m.run_items(plan)


def plan(m, p):
    """Check one message and its sender; returns ``(result, send)``."""
    spec = _mail.build_spec(p)
    sender = m.shared(_senders).resolve(spec["sender"])
    planned = _mail.plan_send(spec, sender)

    def result_of(sent):
        result = dict(changed=True, sent=sent, message=planned["message"], plan=_mail.public_calls(planned))
        if m.module._diff:
            result["diff"] = _mail.diff(planned)
        return result

    def send():
        _mail.send(m.graph, planned)
        warning = _mail.resent_warning(m.retry_stats.events if m.retry_stats else [], planned)
        if warning:
            m.module.warn(warning)
        return result_of(True)

    return result_of(False), send


def _senders(m):
    return _mail.Senders(m.graph)


if __name__ == "__main__":
    main()
