# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of ``m365_access``: a person's ways into their account and mail, closed.

Three kinds of access, each read first and planned as a list of exact calls:

- **authentication methods** through Graph's authentication-methods API: ``GET /users/{id}/authentication/methods`` lists
  them, and each kind is removed at its own endpoint (``DELETE /users/{id}/authentication/{segment}/{method id}``,
  ``METHODS``). Graph has no delete for the password method (it is scrambled instead, m365_user ``scramble_password``), nor
  in v1.0 for kinds not in ``METHODS``; those are kept and named. Graph refuses to remove the user's default method while
  other methods remain ("Cannot delete default method with other methods configured", badRequest); v1.0 does not say which
  method is the default, so a method refused with a 400 while others remain is tried again once the others are gone.
  A mobile number goes after the alternate and office numbers (a user cannot have an alternateMobile without a mobile).
- **mobile devices** of the mailbox through Exchange Online (``Get-MobileDevice -Mailbox``, ``Remove-MobileDevice``), as
  CIPP's offboarding does.
- **inbox rules** that forward or redirect mail outside the tenant (an address whose domain is not an accepted domain of the
  tenant, ``Get-AcceptedDomain``), disabled through Graph (``GET .../mailFolders/inbox/messageRules``, ``PATCH
  .../messageRules/{id}`` with ``isEnabled: false``) and listed. A rule Graph marks ``isReadOnly`` cannot be changed by the
  REST API: it is listed as kept.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._exchange import ExchangeError
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, quote_key
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

# kind (the option's value), @odata.type, the path segment of its per-kind endpoint. Graph v1.0's authentication-methods API.
METHODS = (
    ("phone", "#microsoft.graph.phoneAuthenticationMethod", "phoneMethods"),
    ("microsoftAuthenticator", "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "microsoftAuthenticatorMethods"),
    ("fido2", "#microsoft.graph.fido2AuthenticationMethod", "fido2Methods"),
    ("softwareOath", "#microsoft.graph.softwareOathAuthenticationMethod", "softwareOathMethods"),
    ("email", "#microsoft.graph.emailAuthenticationMethod", "emailMethods"),
    ("windowsHelloForBusiness", "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod", "windowsHelloForBusinessMethods"),
    ("temporaryAccessPass", "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "temporaryAccessPassMethods"),
    ("platformCredential", "#microsoft.graph.platformCredentialAuthenticationMethod", "platformCredentialMethods"),
)
KINDS = tuple(method[0] for method in METHODS)
KIND_OF_TYPE = dict((odata.lower(), kind) for kind, odata, segment in METHODS)
SEGMENT = dict((kind, segment) for kind, odata, segment in METHODS)
PASSWORD_TYPE = "#microsoft.graph.passwordauthenticationmethod"
PASSWORD_KEPT = "Graph cannot remove the password method; scramble the password instead (m365_user scramble_password)"
OTHER_KEPT = "Graph v1.0 has no delete for this kind of method; remove it in the Entra admin centre"
# Phones in the order they can go: a user cannot keep an alternateMobile number without a mobile number.
PHONE_ORDER = {"alternatemobile": 0, "office": 1, "mobile": 2}
RULE_ACTIONS = ("forwardTo", "redirectTo", "forwardAsAttachmentTo")
MAX_REMOVALS = 10
RULES_PATH = "users/%s/mailFolders/inbox/messageRules"


def _kind_value(value, where):
    text = (value or "").strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.lower() == "password":
        raise ValidationError("%s: Graph cannot remove the password method; it is always kept. Use m365_user scramble_password to make the "
                              "password unknown." % where, field="authentication_methods")
    for kind in KINDS:
        if isinstance(text, str) and text.lower() == kind.lower():
            return kind
    raise ValidationError("%s: %r is not a kind of authentication method; use %s." % (where, value, ", ".join(KINDS)),
                          field="authentication_methods")


def _device_value(value, where):
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError("%s has an empty entry; give device ids (DeviceId from Get-MobileDevice)." % where, field="mobile_devices")
    return text


def _no_add(change, option, how):
    if change.add:
        raise ValidationError("%s.add is not supported: this module only removes %s. %s" % (option, option.replace("_", " "), how), field=option)


def build_spec(params):
    """Validate and normalise m365_access's options. Raises ValidationError; makes no call."""
    user = (params.get("user") or "").strip()
    if not user:
        raise ValidationError("user is empty; give the user's UPN or object id.", field="user")
    methods = _model.ListChange(params.get("authentication_methods"), "authentication_methods", normalise=_kind_value)
    _no_add(methods, "authentication_methods", "People register their own methods at https://aka.ms/mysecurityinfo.")
    devices = _model.ListChange(params.get("mobile_devices"), "mobile_devices", normalise=_device_value)
    _no_add(devices, "mobile_devices", "Devices appear when they first sync with the mailbox.")
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)  # a bad value fails before any call
    rules = bool(params.get("disable_external_forwarding_rules"))
    return {"user": user, "methods": methods, "devices": devices, "rules": rules, "max_removals": params.get("max_removals")}


# -- views ------------------------------------------------------------------------------------------------------------

def method_view(method):
    """``{id, kind, detail}`` of a method as Graph lists it (``kind`` is ``password`` or ``other:<type>`` outside METHODS)."""
    odata = (method.get("@odata.type") or "").lower()
    if odata == PASSWORD_TYPE:
        kind = "password"
    else:
        kind = KIND_OF_TYPE.get(odata) or "other:%s" % odata.split(".")[-1]
    detail = method.get("phoneType") or method.get("displayName") or method.get("model") or ""
    return {"id": method.get("id"), "kind": kind, "detail": detail}


def device_view(device):
    return {"identity": device.get("Identity") or device.get("Guid"), "device_id": device.get("DeviceId"), "model": device.get("DeviceModel"),
            "type": device.get("DeviceType"), "name": device.get("FriendlyName") or device.get("DeviceModel") or device.get("DeviceId")}


def rule_targets(rule):
    """Every address a rule forwards or redirects to, as ``(action, address)``."""
    actions = rule.get("actions") or {}
    out = []
    for action in RULE_ACTIONS:
        for recipient in actions.get(action) or []:
            address = ((recipient or {}).get("emailAddress") or {}).get("address") or ""
            if address:
                out.append((action, address))
    return out


def is_outside(address, accepted):
    """An address whose domain is not one of the tenant's accepted domains (an Exchange-internal form without @ is inside)."""
    if "@" not in address:
        return False
    domain = address.rsplit("@", 1)[1].strip().lower()
    return domain not in accepted


def rule_view(rule, accepted):
    outside = sorted(set(address for action, address in rule_targets(rule) if is_outside(address, accepted)))
    return {"id": rule.get("id"), "name": rule.get("displayName"), "enabled": bool(rule.get("isEnabled")), "to": outside,
            "read_only": bool(rule.get("isReadOnly"))}


# -- the plan ---------------------------------------------------------------------------------------------------------

def _method_order(view):
    """Removal order: phones by type (alternate and office before mobile), then the rest as listed."""
    return (0 if view["kind"] == "phone" else 1, PHONE_ORDER.get((view["detail"] or "").lower(), 3))


def plan_access(spec, user, methods, devices, rules, accepted):
    """The calls that close the person's ways in, from what was read.

    ``methods`` (Graph's list, or None when not asked), ``devices`` (Get-MobileDevice, or None: not asked or no mailbox),
    ``rules`` (Graph's inbox rules, or None), ``accepted`` (lower-case accepted domains). Returns a dict of ``calls`` (each
    ``{service, method, path|cmdlet, ...}``), ``before``, ``after`` and the lists the module returns."""
    who = user.get("userPrincipalName") or user["id"]
    user_id = user["id"]
    out = {"calls": [], "methods_removed": [], "methods_kept": [], "devices_removed": [], "rules_disabled": [], "rules_kept": []}
    before, after = {}, {}
    if methods is not None:
        views = [method_view(m) for m in methods]
        before["authentication_methods"] = views
        removable = [m for m in views if m["kind"] in KINDS]
        for m in views:
            if m["kind"] == "password":
                out["methods_kept"].append(dict(m, reason=PASSWORD_KEPT))
            elif m["kind"] not in KINDS:
                out["methods_kept"].append(dict(m, reason=OTHER_KEPT))
        change = spec["methods"]
        if change.set is not None:
            keep = set(change.set)
            going = [m for m in removable if m["kind"] not in keep]
        else:
            going = [m for m in removable if m["kind"] in set(change.remove)]
        going = sorted(going, key=_method_order)
        if going:
            _model.check_removals(["%s %s" % (m["kind"], m["id"]) for m in going], spec["max_removals"], len(removable), MAX_REMOVALS,
                                  "authentication methods", who)
        for m in going:
            out["calls"].append({"service": "graph", "method": "DELETE", "what": "authentication method", "item": m,
                                 "path": "users/%s/authentication/%s/%s" % (quote_key(user_id), SEGMENT[m["kind"]], quote_key(m["id"]))})
        out["methods_removed"] = going
        gone = set(m["id"] for m in going)
        after["authentication_methods"] = [m for m in views if m["id"] not in gone]
    if devices is not None:
        views = [device_view(d) for d in devices]
        before["mobile_devices"] = views
        held = [d["device_id"] or d["identity"] for d in views]
        by_key = {}
        for d in views:
            for key in (d["device_id"], d["identity"]):
                if key:
                    by_key[key.lower()] = d
        change = spec["devices"]
        if change.set is not None:
            keep = set(k.lower() for k in change.set)
            going = [d for d in views if not ({(d["device_id"] or "").lower(), (d["identity"] or "").lower()} & keep)]
        else:
            going = []
            for key in change.remove:
                found = by_key.get(key.lower())
                if found is not None and found not in going:
                    going.append(found)
        if going:
            _model.check_removals([d["name"] for d in going], spec["max_removals"], len(held), MAX_REMOVALS, "mobile devices", who)
        for d in going:
            out["calls"].append({"service": "exchange", "cmdlet": "Remove-MobileDevice", "what": "mobile device", "item": d,
                                 "parameters": {"Identity": d["identity"], "Confirm": False}})
        out["devices_removed"] = going
        gone = set(id(d) for d in going)
        after["mobile_devices"] = [d for d in views if id(d) not in gone]
    if rules is not None:
        external = [rule_view(r, accepted) for r in rules]
        external = [r for r in external if r["to"]]
        before["forwarding_rules"] = [dict(r) for r in external]
        after_rules = []
        for rule in external:
            if rule["enabled"] and rule["read_only"]:
                out["rules_kept"].append(dict(rule, reason="Graph marks the rule read-only (made in Outlook for Windows); disable it there "
                                                           "or with Exchange's Disable-InboxRule"))
                after_rules.append(dict(rule))
            elif rule["enabled"]:
                out["calls"].append({"service": "graph", "method": "PATCH", "what": "inbox rule", "item": rule, "body": {"isEnabled": False},
                                     "path": "%s/%s" % (RULES_PATH % quote_key(user_id), quote_key(rule["id"]))})
                out["rules_disabled"].append(rule)
                after_rules.append(dict(rule, enabled=False))
            else:
                after_rules.append(dict(rule))
        after["forwarding_rules"] = after_rules
    out["before"], out["after"] = before, after
    return out


def public_calls(calls):
    """The calls as shown to people: method and path (Graph) or cmdlet and parameter names (Exchange)."""
    out = []
    for call in calls:
        if call["service"] == "graph":
            out.append({"method": call["method"], "path": "/" + call["path"], "fields": sorted(call.get("body") or {})})
        else:
            out.append({"cmdlet": call["cmdlet"], "method": "POST", "path": "InvokeCommand", "parameters": sorted(call["parameters"])})
    return out


def apply_calls(graph, exchange, calls, who):
    """Send the planned calls, the authentication methods first. A method Graph refuses with a 400 while others are still to
    go (the default method) is tried again once they are gone; a method or device already gone (404) counts as removed."""
    methods = [c for c in calls if c["what"] == "authentication method"]
    deferred = []
    for index, call in enumerate(methods):
        try:
            graph.request("DELETE", call["path"])
        except GraphError as exc:
            if exc.status == 404:
                continue
            if exc.status == 400 and index < len(methods) - 1:
                deferred.append(call)
                continue
            raise _method_error(exc, call, who)
    for call in deferred:
        try:
            graph.request("DELETE", call["path"])
        except GraphError as exc:
            if exc.status != 404:
                raise _method_error(exc, call, who)
    for call in calls:
        if call["what"] == "authentication method":
            continue
        if call["service"] == "exchange":
            try:
                exchange.invoke(call["cmdlet"], call["parameters"])
            except ExchangeError as exc:
                if not exc.is_not_found():
                    raise
        else:
            graph.request(call["method"], call["path"], body=call.get("body"))


def _method_error(exc, call, who):
    item = call["item"]
    exc.message = ("Graph refused to remove %s's %s method%s: %s Remove it in the Entra admin centre (Users > %s > Authentication methods), "
                   "then run again." % (who, item["kind"], " (%s)" % item["detail"] if item["detail"] else "", exc.message, who))
    return exc
