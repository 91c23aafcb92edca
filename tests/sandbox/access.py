"""A person's ways in: Graph's authentication methods and Outlook's inbox rules, and the seed of both.

Authentication methods (Graph v1.0 authentication-methods API; authenticationmethods-overview and each kind's delete page):

- ``GET /users/{id}/authentication/methods`` lists every method, the password method included, each with its
  ``@odata.type``; application permission ``UserAuthenticationMethod.Read.All`` (``UserAuthenticationMethod.ReadWrite.All``
  higher).
- ``DELETE /users/{id}/authentication/{kind}Methods/{method id}`` removes one, ``204`` with no body; application permission
  ``UserAuthenticationMethod.ReadWrite.All`` (platform credentials also ``UserAuthMethod-PlatformCred.ReadWrite.All``). The
  password method has no delete.
- The user's default method cannot go while other methods remain: ``400 badRequest`` "Cannot delete default method with other
  methods configured. Please change default method before deletion." (microsoft-graph-docs issues 14470 and contrib 2913, and a
  Microsoft Q&A answer, for a Microsoft Authenticator default). A mobile number cannot go while an alternateMobile number stays
  (phoneauthenticationmethod-delete); the code and wording of that refusal are UNCONFIRMED.
- UNCONFIRMED: the 403 body without the permission (the directory's ``Authorization_RequestDenied`` is used) and the 404 body
  of an unknown method id.

Inbox rules (messagerule resource, mailfolder-list-messagerules, messagerule-update):

- ``GET /users/{id}/mailFolders/inbox/messageRules`` (application ``MailboxSettings.Read``, or ``MailboxSettings.ReadWrite``) and
  ``PATCH .../messageRules/{rule id}`` (application ``MailboxSettings.ReadWrite``), 200 with the rule.
- As for sendMail (mail.py), Outlook answers ``403 ErrorAccessDenied`` without the permission and ``404
  MailboxNotEnabledForRESTAPI`` for a user without a mailbox; a rule Graph marks ``isReadOnly`` is refused with ``400``
  (UNCONFIRMED wording).
"""

import copy
import uuid

from . import mail
from .errors import GraphError, bad_request

# kind -> (@odata.type, path segment)
KINDS = {
    "password": ("#microsoft.graph.passwordAuthenticationMethod", "passwordMethods"),
    "phone": ("#microsoft.graph.phoneAuthenticationMethod", "phoneMethods"),
    "microsoftAuthenticator": ("#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "microsoftAuthenticatorMethods"),
    "fido2": ("#microsoft.graph.fido2AuthenticationMethod", "fido2Methods"),
    "softwareOath": ("#microsoft.graph.softwareOathAuthenticationMethod", "softwareOathMethods"),
    "email": ("#microsoft.graph.emailAuthenticationMethod", "emailMethods"),
    "windowsHelloForBusiness": ("#microsoft.graph.windowsHelloForBusinessAuthenticationMethod", "windowsHelloForBusinessMethods"),
    "temporaryAccessPass": ("#microsoft.graph.temporaryAccessPassAuthenticationMethod", "temporaryAccessPassMethods"),
    "platformCredential": ("#microsoft.graph.platformCredentialAuthenticationMethod", "platformCredentialMethods"),
    # A kind Graph v1.0 lists but has no delete for (hardware OATH tokens are assigned, not registered).
    "hardwareOath": ("#microsoft.graph.hardwareOathAuthenticationMethod", "hardwareOathMethods"),
}
DELETABLE = ("phone", "microsoftAuthenticator", "fido2", "softwareOath", "email", "windowsHelloForBusiness", "temporaryAccessPass",
             "platformCredential")
SEGMENTS = dict((KINDS[kind][1], kind) for kind in DELETABLE)
DEFAULT_REFUSED = "Cannot delete default method with other methods configured. Please change default method before deletion."
MOBILE_REFUSED = "A user can't have an alternateMobile number without a mobile number. Delete the alternateMobile number first."  # UNCONFIRMED
METHOD_NOT_FOUND = "The requested authentication method was not found."  # UNCONFIRMED
RULE_NOT_FOUND = "The specified object was not found in the store."  # UNCONFIRMED for rules (Outlook's ErrorItemNotFound text)
RULE_READ_ONLY = "The rule is read-only and can't be changed."  # UNCONFIRMED
RULE_WRITABLE = ("displayName", "sequence", "isEnabled", "conditions", "actions", "exceptions")
PASSWORD_ID = "28c10230-6103-485e-b985-444c60001490"  # the password method's id is the same for every user (Graph's examples)

# The default seed: on Tom Baker (who leaves in the tests) every kind of method, a default among them, mobile devices, and
# inbox rules - one forwarding outside, one redirecting outside already disabled, one forwarding inside, one moving mail; on
# Sarah Jones a phone and the authenticator app. Counts elsewhere (users, mailboxes, groups) do not change.
TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
SEED_METHODS = {
    TOM: [
        {"kind": "phone", "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+61 412345678", "phoneType": "mobile",
         "smsSignInState": "notSupported"},
        {"kind": "phone", "id": "b6332ec1-7057-4abe-9331-3d72feddfe41", "phoneNumber": "+61 298765432", "phoneType": "alternateMobile",
         "smsSignInState": "notSupported"},
        {"kind": "microsoftAuthenticator", "id": "6e1e8c3b-d5c7-4f1f-9b7c-2a3b4c5d6e7f", "displayName": "Tom's iPhone",
         "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2401.0119", "default": True},
        {"kind": "fido2", "id": "-2_GRUg2-HYz6_1YG4YRAQ2", "displayName": "YubiKey 5 NFC", "model": "YubiKey 5 NFC"},
        {"kind": "softwareOath", "id": "b172893e-893e-b172-3e89-72b13e8972b1", "secretKey": None},
        {"kind": "email", "id": "3ddfcfc8-9383-446f-83cc-3ab9be4be18f", "emailAddress": "tom.baker.home@gmail.com"},
        {"kind": "temporaryAccessPass", "id": "9d7e1f3a-2b4c-4d5e-8f6a-7b8c9d0e1f2a", "isUsable": False, "lifetimeInMinutes": 60},
    ],
    SARAH: [
        {"kind": "phone", "id": "e4a1c7d2-3f5b-4a6c-8d9e-0f1a2b3c4d5e", "phoneNumber": "+61 400111222", "phoneType": "mobile",
         "smsSignInState": "notSupported"},
        {"kind": "microsoftAuthenticator", "id": "7f2a9b1c-3d4e-4f5a-8b6c-1d2e3f4a5b6c", "displayName": "Sarah's Pixel", "default": True},
    ],
}


def _recipient(address, name=None):
    return {"emailAddress": {"name": name or address, "address": address}}


SEED_RULES = {
    TOM: [
        {"id": "AQAAAJ5dZqA=", "displayName": "Forward to my Gmail", "sequence": 1, "isEnabled": True, "hasError": False, "isReadOnly": False,
         "conditions": {}, "actions": {"forwardTo": [_recipient("tom.baker.home@gmail.com")], "stopProcessingRules": False}},
        {"id": "AQAAAJ5dZqE=", "displayName": "Clients to Sarah", "sequence": 2, "isEnabled": True, "hasError": False, "isReadOnly": False,
         "conditions": {"senderContains": ["client"]}, "actions": {"forwardTo": [_recipient("sarah.jones@northwindacct.com", "Sarah Jones")]}},
        {"id": "AQAAAJ5dZqI=", "displayName": "Old redirect to my accountant", "sequence": 3, "isEnabled": False, "hasError": False,
         "isReadOnly": False, "conditions": {}, "actions": {"redirectTo": [_recipient("books@tombaker-accounting.com.au")]}},
        {"id": "AQAAAJ5dZqM=", "displayName": "Newsletters", "sequence": 4, "isEnabled": True, "hasError": False, "isReadOnly": False,
         "conditions": {"subjectContains": ["newsletter"]}, "actions": {"moveToFolder": "AAMkAGI2TAAA=", "markAsRead": True}},
    ],
}
SEED_DEVICES = {
    TOM: [
        {"DeviceId": "ApplF17ZQ0A3N72J", "DeviceModel": "iPhone15C2", "DeviceType": "iPhone", "DeviceOS": "iOS 17.4", "FriendlyName": "Tom's iPhone",
         "ClientType": "EAS"},
        {"DeviceId": "6F1D2C3B4A5E6F70", "DeviceModel": "Outlook for Android", "DeviceType": "Outlook", "DeviceOS": "Android 14",
         "FriendlyName": "Tom's tablet", "ClientType": "Outlook"},
    ],
}


def seed_default(tenant):
    """The default seed's methods, rules and mobile devices (after the users and their mailboxes)."""
    for user_id, methods in SEED_METHODS.items():
        for method in methods:
            add_method(tenant, user_id, dict(method))
    for user_id, rules in SEED_RULES.items():
        mailbox = tenant.mailboxes.get(user_id)
        if mailbox is not None:
            mailbox["rules"] = copy.deepcopy(rules)
    for user_id, devices in SEED_DEVICES.items():
        for device in devices:
            tenant.exchange.add_mobile_device(user_id, dict(device))


def methods_of(tenant, user_id):
    """The user's methods, the password method first (every user has one)."""
    held = tenant.auth_methods.setdefault(user_id, [{"kind": "password", "id": PASSWORD_ID, "createdDateTime": None}])
    return held


def add_method(tenant, user_id, method):
    """Seed a method (``kind`` and the kind's properties; ``default: true`` makes it the default)."""
    if method.get("kind") not in KINDS:
        raise bad_request("Unknown authentication method kind %r." % method.get("kind"))
    method.setdefault("id", str(uuid.uuid4()))
    held = methods_of(tenant, user_id)
    if method.pop("default", False):
        for other in held:
            other.pop("_default", None)
        method["_default"] = True
    held.append(method)
    return method


def _view(method):
    odata = KINDS[method["kind"]][0]
    out = {"@odata.type": odata}
    out.update((key, copy.deepcopy(value)) for key, value in method.items() if key != "kind" and not key.startswith("_"))
    return out


def list_methods(tenant, key):
    record = tenant._find(key)
    return [_view(m) for m in methods_of(tenant, record.id)]


def delete_method(tenant, key, segment, method_id):
    record = tenant._find(key)
    kind = SEGMENTS[segment]
    held = methods_of(tenant, record.id)
    method = next((m for m in held if m["kind"] == kind and m["id"].lower() == method_id.lower()), None)
    if method is None:
        raise GraphError(404, "itemNotFound", METHOD_NOT_FOUND)
    others = [m for m in held if m is not method and m["kind"] in DELETABLE]
    if method.get("_default") and others:
        raise bad_request(DEFAULT_REFUSED, code="badRequest")
    if kind == "phone" and method.get("phoneType") == "mobile" and any(m.get("phoneType") == "alternateMobile" for m in held):
        raise bad_request(MOBILE_REFUSED, code="badRequest")
    held.remove(method)


# -- inbox rules ----------------------------------------------------------------------------------------------------------

def _mailbox(tenant, key):
    try:
        record = tenant._find(key)
    except GraphError:
        raise GraphError(404, "ErrorInvalidUser", mail.INVALID_USER.format(key=key))
    if tenant.mailbox_of(record.id) is None:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI", mail.NO_MAILBOX)
    return tenant.mailboxes[record.id]


def list_rules(tenant, key):
    mailbox = _mailbox(tenant, key)
    return [copy.deepcopy(rule) for rule in sorted(mailbox.get("rules") or [], key=lambda r: r.get("sequence") or 0)]


def update_rule(tenant, key, rule_id, body):
    mailbox = _mailbox(tenant, key)
    rule = next((r for r in mailbox.get("rules") or [] if r["id"] == rule_id), None)
    if rule is None:
        raise GraphError(404, "ErrorItemNotFound", RULE_NOT_FOUND)
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
    for name in body:
        if name not in RULE_WRITABLE and not name.startswith("@odata."):
            # UNCONFIRMED wording (Outlook's OData reader).
            raise bad_request("The property '%s' does not exist on type 'microsoft.graph.messageRule'." % name, code="RequestBodyRead")
    if "isEnabled" in body and not isinstance(body["isEnabled"], bool):
        raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'." % body["isEnabled"], code="RequestBodyRead")
    if rule.get("isReadOnly"):
        raise bad_request(RULE_READ_ONLY, code="ErrorInvalidRequest")
    for name, value in body.items():
        if not name.startswith("@odata."):
            rule[name] = copy.deepcopy(value)
    return copy.deepcopy(rule)


def seed_person(tenant, spec):
    """Control API: ``{"user": upn or id, "methods": [...], "rules": [...], "devices": [...], "auto_reply": {...}}`` added to a user."""
    record = tenant._find(spec.get("user") or "")
    for method in spec.get("methods") or []:
        add_method(tenant, record.id, dict(method))
    mailbox = tenant.mailboxes.get(record.id)
    if (spec.get("rules") or spec.get("devices") or spec.get("auto_reply")) and mailbox is None:
        raise bad_request("%s has no mailbox for rules, devices or an automatic reply." % spec.get("user"))
    for rule in spec.get("rules") or []:
        rule = dict({"id": str(uuid.uuid4()), "sequence": len(mailbox.get("rules") or []) + 1, "isEnabled": True, "hasError": False,
                     "isReadOnly": False, "conditions": {}, "actions": {}}, **rule)
        mailbox.setdefault("rules", []).append(rule)
    for device in spec.get("devices") or []:
        tenant.exchange.add_mobile_device(record.id, dict(device))
    if spec.get("auto_reply"):
        mailbox["auto_reply"].update(spec["auto_reply"])
    return {"user": record.id}


def dump(tenant):
    """Per user id: methods (kind, id, default), for the state dump."""
    return dict((user_id, [{"kind": m["kind"], "id": m["id"], "default": bool(m.get("_default")), "phoneType": m.get("phoneType")}
                           for m in methods]) for user_id, methods in tenant.auth_methods.items())
