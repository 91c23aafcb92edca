# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One message through Microsoft Graph's ``POST /users/{id | userPrincipalName}/sendMail`` (m365_send_mail).

Sending is an action, not a state: there is nothing to read back and compare, so every run that is
not in check mode sends (and reports a change). The plan is the one call, with field names only;
the message's text never leaves this module except in the request itself, because it may carry a
password. Graph answers 202 with no body; Outlook's errors are turned into sentences here:
403 (no ``Mail.Send``), ``MailboxNotEnabledForRESTAPI`` (the sender has no Exchange Online
mailbox), ``ErrorInvalidUser`` and ``ErrorInvalidRecipients``. All are recognised by status and
error code, never by message text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, quote_key
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError, is_guid, validate_email

# Exchange Online's default limit of recipients per message (its "recipient rate" limits are higher).
MAX_RECIPIENTS = 500
USER_SELECT = "id,userPrincipalName,mail,accountEnabled"
BODY_TYPES = {"text": "Text", "html": "HTML"}
NO_MAILBOX_CODES = ("MailboxNotEnabledForRESTAPI", "MailboxNotSupportedForRESTAPI")


class SendMailError(GraphError):
    """A failed sendMail whose message has been rewritten into a sentence that says what to do."""

    @classmethod
    def wrap(cls, error, message):
        return cls(message, status=error.status, code=error.code, request_id=error.request_id, details=error.details,
                   method=error.method, path=error.path)


def _addresses(values, field):
    """Validated recipient addresses, in order, without repeats (compared case-insensitively)."""
    out = []
    seen = set()
    for value in values or []:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise ValidationError("%s holds an empty address; give e-mail addresses such as jane@example.org." % field, field=field)
        address = validate_email(text, field=field)
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def build_spec(params):
    """The message to send, checked before any call. Raises ValidationError."""
    sender = (params.get("sender") or "").strip()
    if not sender:
        raise ValidationError("sender is empty; give the UPN of the mailbox that sends the message.", field="sender")
    if not is_guid(sender):
        try:
            validate_email(sender, field="sender")
        except ValidationError:
            raise ValidationError("sender %r is not a user principal name (name@domain) or an object id; give the UPN of the mailbox "
                                  "that sends the message." % sender, field="sender")
    to = _addresses(params.get("to"), "to")
    if not to:
        raise ValidationError("to is empty; give at least one recipient address.", field="to")
    cc = _addresses(params.get("cc"), "cc")
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise ValidationError("The message has %d recipients; Exchange Online accepts at most %d per message. Send it in smaller "
                              "batches." % (len(to) + len(cc), MAX_RECIPIENTS), field="to")
    subject = params.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise ValidationError("subject is empty; give the message a subject.", field="subject")
    body = params.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("body is empty; give the text of the message.", field="body")
    body_type = params.get("body_type") or "text"
    if body_type not in BODY_TYPES:
        raise ValidationError("body_type must be text or html, not %r." % body_type, field="body_type")
    return {"sender": sender, "to": to, "cc": cc, "subject": subject, "body": body, "body_type": body_type,
            "save_to_sent_items": bool(params.get("save_to_sent_items"))}


def resolve_sender(graph, sender):
    """The sender as a Graph user (id, userPrincipalName, mail, accountEnabled); ValidationError when there is none."""
    user = graph.get_or_none("users/%s" % quote_key(sender), params={"$select": USER_SELECT})
    if user is None:
        raise ValidationError("sender %s is not a user in this tenant; give the UPN or object id of the mailbox that sends the message."
                              % sender, field="sender")
    return user


class Senders:
    """Senders read once per module run: many messages from one mailbox cost one read."""

    def __init__(self, graph):
        self.graph = graph
        self._found = {}

    def resolve(self, sender):
        key = sender.lower()
        if key not in self._found:
            self._found[key] = resolve_sender(self.graph, sender)
        return self._found[key]


def _recipients(addresses):
    return [{"emailAddress": {"address": address}} for address in addresses]


def plan_send(spec, sender_user):
    """The one call that sends the message, and the message as it may be shown (never its body)."""
    upn = sender_user.get("userPrincipalName") or spec["sender"]
    message = {"subject": spec["subject"], "body": {"contentType": BODY_TYPES[spec["body_type"]], "content": spec["body"]},
               "toRecipients": _recipients(spec["to"])}
    fields = ["message.subject", "message.body", "message.toRecipients"]
    if spec["cc"]:
        message["ccRecipients"] = _recipients(spec["cc"])
        fields.append("message.ccRecipients")
    fields.append("saveToSentItems")
    call = {"op": "send", "method": "POST", "path": "users/%s/sendMail" % quote_key(upn), "fields": fields,
            "body": {"message": message, "saveToSentItems": spec["save_to_sent_items"]}}
    shown = {"sender": upn, "to": list(spec["to"]), "cc": list(spec["cc"]), "subject": spec["subject"], "body_type": spec["body_type"]}
    return {"calls": [call], "message": shown}


def public_calls(plan):
    """The plan as shown to people: method, path and field names, never values (the body may hold a password)."""
    return [{"op": c["op"], "method": c["method"], "path": "/" + c["path"], "fields": list(c["fields"])} for c in plan["calls"]]


def diff(plan):
    """Before and after for diff mode: who gets what subject, never the body."""
    shown = plan["message"]
    return {"before": {}, "after": {"sender": shown["sender"], "to": shown["to"], "cc": shown["cc"], "subject": shown["subject"]}}


def explain(error, sender):
    """A sentence for a failed sendMail, or None to keep the service's own message."""
    if error.status == 403:
        return ("%s The application lacks the Microsoft Graph application permission Mail.Send, needed to send as %s (or an Exchange "
                "Online application access policy keeps it from that mailbox); see docs/permissions.md." % (error.message, sender))
    if error.code in NO_MAILBOX_CODES:
        return "sender %s has no Exchange Online mailbox; give it a licence with Exchange or pick another sender." % sender
    if error.code == "ErrorInvalidUser":
        return "sender %s is not a user in this tenant; give the UPN or object id of the mailbox that sends the message." % sender
    if error.code == "ErrorInvalidRecipients":
        return "Microsoft 365 refused the recipients: %s Check to and cc." % error.message
    return None


def send(graph, plan):
    """Send the planned message. SendMailError (a GraphError) with a sentence for the failures it knows."""
    sender = plan["message"]["sender"]
    for call in plan["calls"]:
        try:
            graph.request(call["method"], call["path"], body=call["body"])
        except GraphError as error:
            sentence = explain(error, sender)
            if sentence is None:
                raise
            raise SendMailError.wrap(error, sentence)


def resent_warning(retry_events, plan):
    """A warning when the send was retried after a failure that the service may have acted on (a reset connection or a
    gateway timeout, not throttling): Graph's sendMail cannot be made idempotent, so the message may arrive twice."""
    paths = ["/v1.0/" + call["path"] for call in plan["calls"]]
    for event in retry_events or []:
        if event.get("method") == "POST" and event.get("status") != 429 and any((event.get("url") or "").endswith(p) for p in paths):
            return ("Sending was retried after %s; if Microsoft 365 had already accepted the first attempt, the recipients receive the "
                    "message twice." % (event.get("error") or "HTTP %s" % event.get("status")))
    return None
