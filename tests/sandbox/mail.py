"""Outlook mail through Graph: ``POST /users/{id | userPrincipalName}/sendMail`` and the tenant's outbox.

The sandbox delivers nothing: every accepted message is kept, as sent, in ``Tenant.sent_mail`` (cleared by a reset) and
served by the control API (``GET /_sandbox/mail``) so that tests can read what a module sent.

Facts (reference graph.md is silent on mail; these come from Microsoft Graph's user-sendmail page and public reports):

- ``POST /users/{id | userPrincipalName}/sendMail`` with ``{"message": {...}, "saveToSentItems": bool}`` answers
  ``202 Accepted`` with no body; ``saveToSentItems`` defaults to true. Application permission ``Mail.Send`` (no higher one).
- Without ``Mail.Send`` the Outlook endpoints answer ``403 ErrorAccessDenied`` "Access is denied. Check credentials and try
  again." (msgraph-sdk-php issue 1204 and others), not the directory's ``Authorization_RequestDenied``.
- A sender that is not a user: ``ErrorInvalidUser`` "The requested user '<key>' is invalid." (aspnet-snippets-sample
  issue 25, laravel-msgraph-mail issue 16); the status (404) is UNCONFIRMED.
- A user without an Exchange Online mailbox (no Exchange licence, mailbox not provisioned yet, guest):
  ``404 MailboxNotEnabledForRESTAPI`` "The mailbox is either inactive, soft-deleted, or is hosted on-premise." (the code
  and text from E5SubBot issue 39 and aomail-app issue 18; 404 from python-o365 issue 438 with the older text).
- No recipient at all: ``400 ErrorInvalidRecipients`` "At least one recipient isn't valid., A message can't be sent because
  it contains no recipients." (php-connect-rest-sample issue 39, msgraph-sdk-dotnet issue 1891); an address that does not
  resolve: "At least one recipient isn't valid., Recipient "bad" isn't resolved. All recipients must be resolved before a
  message can be submitted." (ruby-connect-rest-sample issue 15).

Everything else (codes and wording of malformed bodies) is UNCONFIRMED and marked where it is defined.
"""

import copy
import datetime
import uuid

from .errors import GraphError, bad_request
from .exchange_state import ADDRESS_RE, SERVER

ACCESS_DENIED = "Access is denied. Check credentials and try again."
INVALID_USER = "The requested user '{key}' is invalid."
NO_MAILBOX = "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
NO_RECIPIENTS = "At least one recipient isn't valid., A message can't be sent because it contains no recipients."
UNRESOLVED = ("At least one recipient isn't valid., Recipient \"{address}\" isn't resolved. All recipients must be resolved before a "
              "message can be submitted.")

# Writable properties of microsoft.graph.message (the message resource page). The sandbox keeps the ones tests need
# and accepts the others without acting on them; "from" and "sender" (send as another mailbox) are not emulated.
MESSAGE_PROPERTIES = frozenset([
    "subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from", "sender", "importance",
    "categories", "flag", "inferenceClassification", "internetMessageHeaders", "isDeliveryReceiptRequested",
    "isReadReceiptRequested", "attachments", "mentions", "singleValueExtendedProperties", "multiValueExtendedProperties",
])
RECIPIENT_LISTS = ("toRecipients", "ccRecipients", "bccRecipients")
BODY_TYPES = {"text": "text", "html": "html"}


def access_denied():
    return GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)


def _unreadable(message):
    # UNCONFIRMED: code and wording of Outlook's OData deserialisation errors.
    return bad_request(message, code="RequestBodyRead")


def _recipients(message, name):
    """The addresses of one recipient list; 400 for a list Graph could not read."""
    value = message.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _unreadable("An unexpected '%s' node was found when reading from the JSON reader. A 'StartArray' node was expected."
                          % ("StartObject" if isinstance(value, dict) else "PrimitiveValue"))
    out = []
    for item in value:
        email = item.get("emailAddress") if isinstance(item, dict) else None
        if not isinstance(email, dict):
            raise _unreadable("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A 'StartObject' node "
                              "was expected.")
        address = email.get("address")
        if address is not None and not isinstance(address, str):
            raise _unreadable("Cannot convert the literal '%s' to the expected type 'Edm.String'." % address)
        out.append((address or "").strip())
    return out


def read_request(body):
    """The parts of a sendMail body the sandbox keeps; 400 for what Graph could not read (before the sender is looked up)."""
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
    for name in body:
        if name not in ("message", "saveToSentItems") and not name.startswith("@odata."):
            # UNCONFIRMED wording.
            raise _unreadable("The parameter '%s' in the request payload is not a valid parameter for the operation 'sendMail'." % name)
    message = body.get("message")
    if not isinstance(message, dict):
        # UNCONFIRMED: code and wording for a missing or non-object message parameter.
        raise bad_request("The value of the parameter 'Message' is empty.", code="ErrorInvalidParameter")
    save = body.get("saveToSentItems", True)
    if save is None:
        save = True
    if not isinstance(save, bool):
        raise _unreadable("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'." % save)
    for name in message:
        if name not in MESSAGE_PROPERTIES and not name.startswith("@odata."):
            raise _unreadable("The property '%s' does not exist on type 'microsoft.graph.message'. Make sure to only use property names "
                              "that are defined by the type or mark the type as open type." % name)
    subject = message.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise _unreadable("Cannot convert the literal '%s' to the expected type 'Edm.String'." % subject)
    content_body = message.get("body") or {}
    if not isinstance(content_body, dict):
        raise _unreadable("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A 'StartObject' node was "
                          "expected.")
    content_type = content_body.get("contentType") or "text"
    if not isinstance(content_type, str) or content_type.lower() not in BODY_TYPES:
        raise _unreadable("Requested value '%s' was not found." % content_type)  # UNCONFIRMED: the enum error of the service
    content = content_body.get("content")
    if content is not None and not isinstance(content, str):
        raise _unreadable("Cannot convert the literal '%s' to the expected type 'Edm.String'." % content)
    return {
        "subject": subject or "",
        "contentType": BODY_TYPES[content_type.lower()],
        "content": content or "",
        "recipients": dict((name, _recipients(message, name)) for name in RECIPIENT_LISTS),
        "saveToSentItems": save,
    }


def send_mail(tenant, key, body, app_id=None):
    """Accept a message from the mailbox of user ``key`` (id or UPN) and keep it in ``tenant.sent_mail``; returns it."""
    request = read_request(body)
    try:
        record = tenant._find(key)
    except GraphError:
        raise GraphError(404, "ErrorInvalidUser", INVALID_USER.format(key=key))
    mailbox = tenant.mailbox_of(record.id)
    if mailbox is None:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI", NO_MAILBOX)
    recipients = request["recipients"]
    if not any(recipients[name] for name in RECIPIENT_LISTS):
        raise bad_request(NO_RECIPIENTS, code="ErrorInvalidRecipients")
    for name in RECIPIENT_LISTS:
        for address in recipients[name]:
            if not ADDRESS_RE.match(address) or len(address) > 320:
                raise bad_request(UNRESOLVED.format(address=address), code="ErrorInvalidRecipients")
    user = tenant._view(record)[1]
    host = SERVER.split(".", 1)
    message = {
        "id": str(uuid.uuid4()),
        "internetMessageId": "<%s%s@%s.%s>" % (host[0], uuid.uuid4().hex[:20].upper(), host[0], host[1].lower()),
        "sender": user.get("userPrincipalName"),
        "senderId": record.id,
        "from": mailbox.get("PrimarySmtpAddress") or user.get("mail") or user.get("userPrincipalName"),
        "toRecipients": list(recipients["toRecipients"]),
        "ccRecipients": list(recipients["ccRecipients"]),
        "bccRecipients": list(recipients["bccRecipients"]),
        "subject": request["subject"],
        "contentType": request["contentType"],
        "content": request["content"],
        "saveToSentItems": request["saveToSentItems"],
        "sentDateTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "appId": app_id,
    }
    tenant.sent_mail.append(message)
    return copy.deepcopy(message)
