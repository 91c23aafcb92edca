#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: m365_send_mail
short_description: Send one e-mail from a Microsoft 365 mailbox
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
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
attributes:
  check_mode:
    details: Checks the input and the sender, and reports C(changed) with the plan; nothing is sent.
  diff_mode:
    details: The diff shows the sender, recipients and subject; never the body.
options:
  sender:
    description:
      - UPN (or object id) of the user whose mailbox sends the message. It needs an Exchange Online mailbox (a licence that
        includes Exchange); a shared mailbox works too.
    type: str
    required: true
  to:
    description: Recipient addresses. At least one.
    type: list
    elements: str
    required: true
  cc:
    description: Addresses that get a copy.
    type: list
    elements: str
    default: []
  subject:
    description: Subject line.
    type: str
    required: true
  body:
    description:
      - Text of the message, plain text or HTML (O(body_type)). Never printed or returned. Set C(no_log) on the task as well
        when the text comes from a variable that holds a secret, so that Ansible does not show the variable elsewhere.
    type: str
    required: true
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


def main():
    m = _mail.MailModule(
        argument_spec=dict(
            sender=dict(type="str", required=True),
            to=dict(type="list", elements="str", required=True),
            cc=dict(type="list", elements="str", default=[]),
            subject=dict(type="str", required=True),
            body=dict(type="str", required=True, no_log=True),
            body_type=dict(type="str", default="text", choices=["text", "html"]),
            save_to_sent_items=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    m.run(run)


def run(m):
    spec = _mail.build_spec(m.params)
    sender = _mail.resolve_sender(m.graph, spec["sender"])
    plan = _mail.plan_send(spec, sender)
    if not m.check_mode:
        _mail.send(m.graph, plan)
        warning = _mail.resent_warning(m.retry_stats.events if m.retry_stats else [], plan)
        if warning:
            m.module.warn(warning)
    result = dict(changed=True, sent=not m.check_mode, message=plan["message"], plan=_mail.public_calls(plan))
    if m.module._diff:
        result["diff"] = _mail.diff(plan)
    m.exit(**result)


if __name__ == "__main__":
    main()
