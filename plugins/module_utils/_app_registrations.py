# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Entra ID app registration Practice Protect's token-based provisioning signs in with.

Plain Python, reachable by unit tests without Ansible. An app registration is four things in Microsoft Graph:

- the application object (``POST /applications``): display name, and ``requiredResourceAccess``, the "API permissions"
  list the portal shows (Microsoft Graph application permissions, type ``Role``);
- its service principal in the tenant (``POST /servicePrincipals`` with the ``appId``);
- admin consent to each permission: an app role assignment from that service principal to Microsoft Graph's
  (``POST /servicePrincipals/{id}/appRoleAssignments``: ``principalId``, ``resourceId``, ``appRoleId``; the ids of the
  permissions are read from Microsoft Graph's service principal, ``appRoles``, never hard-coded);
- a credential: a client secret (``POST /applications/{id}/addPassword``, whose value Graph shows once, in that answer) or
  a certificate (``keyCredentials``, the public part only).

``registration_spec`` checks the options, ``plan_registration`` compares them with what the tenant holds and returns the
exact calls, ``RegistrationService`` reads and applies them.

PERMISSIONS is the default permission list. UNCONFIRMED: Practice Protect's knowledge base lists the permissions on its page
"Register an Entra ID application for Token Based Authentication", which could not be read here; the table holds what the
method needs by what it writes (users, with their immutable id: User.ReadWrite.All; the federated domain: Domain.ReadWrite.All;
the directory settings the page's DirSync step names: Directory.ReadWrite.All, Organization.Read.All). Override it with the
``permissions`` option where the knowledge base says otherwise; the doctor compares the app's permissions with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import json
import re

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import odata_string

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# UNCONFIRMED (see the module docstring): one table, overridable with the permissions option.
PERMISSIONS = ("User.ReadWrite.All", "Directory.ReadWrite.All", "Domain.ReadWrite.All", "Organization.Read.All")
DEFAULT_DISPLAY_NAME = "Practice Protect"
DEFAULT_SECRET_NAME = "Practice Protect provisioning"
MAX_REMOVALS = 3
PERMISSION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9-]+)+$")
PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
APPLICATION_SELECT = "id,appId,displayName,requiredResourceAccess,passwordCredentials,keyCredentials"


def registration_spec(params, read_certificate=None):
    """Validate the options that need no tenant data. Raises ValidationError; makes no call."""
    state = params.get("state") or "present"
    display_name = (params.get("display_name") or DEFAULT_DISPLAY_NAME).strip()
    if not display_name or len(display_name) > 120:
        raise v.ValidationError("display_name must be 1 to 120 characters.", field="display_name")
    client_id = (params.get("app_id") or "").strip().lower() or None
    if client_id and not v.is_guid(client_id):
        raise v.ValidationError("app_id %r is not an application (client) id, a GUID such as 1b2c3d4e-...; leave it out to find the "
                                "app registration by display_name." % params.get("app_id"), field="app_id")

    def permission(value, where):
        value = (value or "").strip()
        if not PERMISSION_RE.match(value):
            raise v.ValidationError("%s: %r is not a Microsoft Graph permission name such as User.ReadWrite.All." % (where, value), field="permissions")
        return value

    given = params.get("permissions")
    permissions = _model.ListChange(given if given is not None else {"set": list(PERMISSIONS)}, "permissions", normalise=permission)
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)
    credential = params.get("credential") or "secret"
    certificate = None
    if credential == "certificate":
        if not params.get("certificate_path"):
            raise v.ValidationError("credential is certificate, so give certificate_path (the public certificate, PEM or DER).", field="certificate_path")
        certificate = load_certificate(params["certificate_path"], read_certificate)
    elif params.get("certificate_path"):
        raise v.ValidationError("certificate_path is given but credential is %s; set credential: certificate to use it." % credential,
                                field="certificate_path")
    days = params.get("secret_expiry_days")
    days = 365 if days is None else days
    if credential == "secret" and not 1 <= days <= 730:
        raise v.ValidationError("secret_expiry_days must be between 1 and 730 (Microsoft recommends secrets of less than two years), not %s."
                                % days, field="secret_expiry_days")
    return {
        "state": state, "display_name": display_name, "app_id": client_id, "permissions": permissions,
        "max_removals": params.get("max_removals"), "credential": credential, "certificate": certificate,
        "secret_name": (params.get("secret_name") or DEFAULT_SECRET_NAME).strip(), "secret_expiry_days": days,
        "rotate_secret": bool(params.get("rotate_secret")), "force": bool(params.get("force")),
    }


def load_certificate(path, read=None):
    """``{"key": base64 DER, "thumbprint": SHA-1 hex upper case}`` of a public certificate file (PEM or DER)."""
    def read_file(name):
        with open(name, "rb") as handle:
            return handle.read()

    try:
        data = (read or read_file)(path)
    except (IOError, OSError) as exc:
        raise v.ValidationError("certificate_path %s cannot be read: %s." % (path, exc), field="certificate_path")
    if b"PRIVATE KEY" in data:
        raise v.ValidationError("certificate_path %s holds a private key; give the public certificate only (the private key stays with "
                                "Practice Protect)." % path, field="certificate_path")
    found = PEM_RE.search(data.decode("ascii", "replace"))
    try:
        der = base64.b64decode("".join(found.group(1).split())) if found else data
    except (binascii.Error, ValueError):
        der = b""
    if not der or der[:1] != b"\x30":
        raise v.ValidationError("certificate_path %s is not an X.509 certificate in PEM or DER form." % path, field="certificate_path")
    return {"key": base64.b64encode(der).decode("ascii"), "thumbprint": hashlib.sha1(der).hexdigest().upper()}


# -- the plan -------------------------------------------------------------------------------------------------------

def app_roles(graph_sp):
    """Permission name (lower case) -> (name, app role id) of Microsoft Graph's application permissions."""
    out = {}
    for role in (graph_sp or {}).get("appRoles") or []:
        if "Application" in (role.get("allowedMemberTypes") or []) and role.get("value") and role.get("isEnabled", True):
            out[role["value"].lower()] = (role["value"], role["id"].lower())
    return out


def resolve_permissions(names, roles):
    """The app roles of ``names``; unknown ones fail before any write, each with the closest permission names."""
    problems = []
    for name in names:
        if name.lower() not in roles:
            similar = v.close_matches(name, [r[0] for r in roles.values()])
            problems.append("%r (%s)" % (name, "did you mean %s?" % " or ".join(similar) if similar else "no permission has a similar name"))
    if problems:
        raise v.ValidationError("permissions: not a Microsoft Graph application permission: %s." % "; ".join(problems), field="permissions")
    return [roles[name.lower()] for name in names]


def _now():
    return datetime.datetime.utcnow().replace(microsecond=0)


def _expired(credential, now):
    end = (credential.get("endDateTime") or "")[:19]
    try:
        return bool(end) and datetime.datetime.strptime(end, "%Y-%m-%dT%H:%M:%S") <= now
    except ValueError:
        return False


def view(app, granted):
    """The app registration as the diff and the result show it (credential names, dates and hints; never a value)."""
    if not app:
        return {}
    return {
        "display_name": app.get("displayName"), "client_id": app.get("appId"), "permissions": sorted(granted),
        "secrets": sorted("%s (ends %s)" % (c.get("displayName") or "-", (c.get("endDateTime") or "")[:10]) for c in app.get("passwordCredentials") or []),
        "certificates": sorted(c.get("customKeyIdentifier") or "-" for c in app.get("keyCredentials") or []),
    }


def plan_registration(spec, app, sp, graph_sp, assignments, now=None):
    """Compare the wanted registration with the tenant's (``app``, its service principal ``sp``, Microsoft Graph's
    ``graph_sp`` and ``sp``'s ``assignments``; None where missing) and return ``{"action", "calls", "before", "after",
    "permissions_added", "permissions_removed", "secret_added"}``. Each call is ``{op, method, path, body, fields}``;
    ``{app}`` and ``{sp}`` stand for ids the run learns from an earlier call. Raises ValidationError or RemovalRefused."""
    now = now or _now()
    roles = app_roles(graph_sp)
    by_role_id = dict((role_id, name) for name, role_id in roles.values())
    graph_sp_id = (graph_sp or {}).get("id")
    held = [a for a in assignments or [] if (a.get("resourceId") or "").lower() == (graph_sp_id or "").lower()]
    granted = [by_role_id.get((a.get("appRoleId") or "").lower(), a.get("appRoleId")) for a in held]
    plan = {"action": "none", "calls": [], "permissions_added": [], "permissions_removed": [], "secret_added": False,
            "before": view(app, granted), "after": {}}
    if spec["state"] == "absent":
        if app:
            if not spec["force"]:
                raise v.ValidationError(
                    "Refusing to remove the app registration %s (client id %s): Practice Protect's Office 365 application may still sign in "
                    "with it, and the module cannot read that setting. Switch the Office 365 application in Practice Protect to another "
                    "app registration (or turn its provisioning off) first, then run again with force: true." % (app.get("displayName"), app.get("appId")),
                    field="force")
            plan["action"] = "delete"
            plan["calls"].append({"op": "delete", "method": "DELETE", "path": "applications/%s" % app["id"], "fields": []})
        return plan

    wanted = resolve_permissions(spec["permissions"].set if spec["permissions"].set is not None else spec["permissions"].add, roles)
    resolve_permissions(spec["permissions"].remove, roles)
    to_add_names, to_remove_names = spec["permissions"].plan(granted)
    to_add = [(name, role_id) for name, role_id in wanted if name.lower() in set(n.lower() for n in to_add_names)]
    removals = [a for a in held if by_role_id.get((a.get("appRoleId") or "").lower(), a.get("appRoleId")) in to_remove_names]
    if removals:
        _model.check_removals([by_role_id.get(a["appRoleId"].lower(), a["appRoleId"]) for a in removals], spec["max_removals"], len(held),
                              MAX_REMOVALS, "Microsoft Graph permissions", "the app registration %s" % spec["display_name"])
    after_names = spec["permissions"].after(granted)
    after_ids = [roles[n.lower()][1] for n in after_names if n.lower() in roles]
    app_id = app["id"] if app else "{app}"
    sp_id = sp["id"] if sp else "{sp}"
    calls = plan["calls"]

    # The application: created, or its name and "API permissions" list (requiredResourceAccess) brought in line.
    access = [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": [{"id": role_id, "type": "Role"} for role_id in after_ids]}]
    if app is None:
        plan["action"] = "create"
        body = {"displayName": spec["display_name"], "signInAudience": "AzureADMyOrg", "requiredResourceAccess": access}
        calls.append({"op": "create", "method": "POST", "path": "applications", "body": body, "fields": sorted(body)})
    else:
        changes = {}
        if app.get("displayName") != spec["display_name"]:
            changes["displayName"] = spec["display_name"]
        others = [r for r in app.get("requiredResourceAccess") or [] if (r.get("resourceAppId") or "").lower() != GRAPH_APP_ID]
        current = [r for r in app.get("requiredResourceAccess") or [] if (r.get("resourceAppId") or "").lower() == GRAPH_APP_ID]
        current_ids = set((a.get("id") or "").lower() for r in current for a in r.get("resourceAccess") or [] if a.get("type") == "Role")
        scopes = [a for r in current for a in r.get("resourceAccess") or [] if a.get("type") != "Role"]
        if current_ids != set(after_ids):
            access[0]["resourceAccess"].extend(scopes)
            changes["requiredResourceAccess"] = others + access
        if changes:
            calls.append({"op": "update", "method": "PATCH", "path": "applications/%s" % app_id, "body": changes, "fields": sorted(changes)})
    if sp is None:
        calls.append({"op": "service_principal", "method": "POST", "path": "servicePrincipals", "body": {"appId": "{appId}"}, "fields": ["appId"]})
    # Admin consent: one app role assignment per permission.
    for name, role_id in to_add:
        body = {"principalId": sp_id, "resourceId": graph_sp_id, "appRoleId": role_id}
        calls.append({"op": "grant", "method": "POST", "path": "servicePrincipals/%s/appRoleAssignments" % sp_id, "body": body,
                      "fields": ["appRoleId", "principalId", "resourceId"], "permission": name})
    for assignment in removals:
        name = by_role_id.get(assignment["appRoleId"].lower(), assignment["appRoleId"])
        calls.append({"op": "revoke", "method": "DELETE", "path": "servicePrincipals/%s/appRoleAssignments/%s" % (sp_id, assignment["id"]),
                      "fields": [], "permission": name})
    # The credential.
    secrets = [c for c in (app or {}).get("passwordCredentials") or [] if c.get("displayName") == spec["secret_name"] and not _expired(c, now)]
    if spec["credential"] == "secret" and (not secrets or spec["rotate_secret"]):
        end = (now + datetime.timedelta(days=spec["secret_expiry_days"])).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"passwordCredential": {"displayName": spec["secret_name"], "endDateTime": end}}
        calls.append({"op": "add_secret", "method": "POST", "path": "applications/%s/addPassword" % app_id, "body": body,
                      "fields": ["passwordCredential"]})
        plan["secret_added"] = True
    certificate = spec["certificate"]
    keys = (app or {}).get("keyCredentials") or []
    if certificate and not any((k.get("customKeyIdentifier") or "").upper() == certificate["thumbprint"] for k in keys):
        # A PATCH of keyCredentials replaces the whole list: the certificates the app holds go with it (their key is filled in
        # at apply time, from a read of this one application, the only read that returns it).
        names = ("keyId", "type", "usage", "displayName", "customKeyIdentifier", "startDateTime", "endDateTime", "key")
        kept = [dict((name, k.get(name)) for name in names) for k in keys]
        body = {"keyCredentials": kept + [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": certificate["key"],
                                           "displayName": "CN=%s" % spec["secret_name"]}]}
        calls.append({"op": "add_certificate", "method": "PATCH", "path": "applications/%s" % app_id, "body": body, "fields": ["keyCredentials"]})
    if calls and plan["action"] == "none":
        plan["action"] = "update"
    plan["permissions_added"] = sorted(pair[0] for pair in to_add)
    plan["permissions_removed"] = sorted(by_role_id.get(a["appRoleId"].lower(), a["appRoleId"]) for a in removals)
    after = dict(view(app, after_names) if app else {"display_name": spec["display_name"], "client_id": None, "permissions": sorted(after_names),
                                                     "secrets": [], "certificates": []})
    after["display_name"] = spec["display_name"]
    if plan["secret_added"]:
        after["secrets"] = sorted(after["secrets"] + ["%s (ends %s)" % (spec["secret_name"], body_end(calls))])
    if certificate and certificate["thumbprint"] not in after["certificates"]:
        after["certificates"] = sorted(after["certificates"] + [certificate["thumbprint"]])
    plan["after"] = after
    return plan


def body_end(calls):
    for call in calls:
        if call["op"] == "add_secret":
            return call["body"]["passwordCredential"]["endDateTime"][:10]
    return ""


def public_plan(plan):
    """The plan without request bodies (a certificate's key stays out of the result): op, method, path, fields, permission."""
    return [dict((k, call[k]) for k in ("op", "method", "path", "fields", "permission") if k in call) for call in plan["calls"]]


GRANT_PERMISSION = "AppRoleAssignment.ReadWrite.All"


def token_roles(authorization):
    """The application permissions (``roles``) an access token carries, or None when it cannot be read (an opaque token)."""
    try:
        payload = authorization.split(" ", 1)[-1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (IndexError, ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return set(roles) if isinstance(roles, list) else None


def check_grant_permission(plan, roles):
    """Granting or revoking needs AppRoleAssignment.ReadWrite.All, which no read of the plan needs: refuse before the first write
    when the token shows it lacks it (an unreadable token is let through; Graph's 403 then names it)."""
    if roles is None or GRANT_PERMISSION in roles or not any(call["op"] in ("grant", "revoke") for call in plan["calls"]):
        return
    raise v.ValidationError(
        "The application this module runs as lacks the Microsoft Graph permission %s, which granting or revoking the app registration's "
        "permissions (admin consent) needs; nothing was written. Grant it (with admin consent), or grant the permissions in the Entra admin "
        "center; see docs/permissions.md." % GRANT_PERMISSION, field="permissions")


# -- reading and applying -------------------------------------------------------------------------------------------

class RegistrationService:
    """Reads an app registration with its service principal and permissions, and applies a plan."""

    def __init__(self, graph):
        self.graph = graph

    def graph_principal(self):
        found = self.graph.list("servicePrincipals", params={"$filter": "appId eq %s" % odata_string(GRAPH_APP_ID),
                                                             "$select": "id,appId,displayName,appRoles"})
        if not found:
            raise v.ValidationError("Microsoft Graph's service principal (appId %s) is not in this tenant, so no permission can be granted."
                                    % GRAPH_APP_ID, field="permissions")
        return found[0]

    def application(self, spec):
        if spec["app_id"]:
            where = "appId eq %s" % odata_string(spec["app_id"])
        else:
            where = "displayName eq %s" % odata_string(spec["display_name"])
        found = self.graph.list("applications", params={"$filter": where, "$select": APPLICATION_SELECT})
        if len(found) > 1:
            raise v.ValidationError("%d app registrations are named %r: give app_id to say which one Practice Protect uses (%s)." % (
                len(found), spec["display_name"], ", ".join(sorted(a.get("appId") or "" for a in found))), field="app_id")
        if not found and spec["app_id"]:
            if spec["state"] == "absent":
                return None
            raise v.ValidationError("No app registration has the client id %s; leave app_id out to create one named %r." % (
                spec["app_id"], spec["display_name"]), field="app_id")
        return found[0] if found else None

    def principal(self, app):
        if not app:
            return None
        found = self.graph.list("servicePrincipals", params={"$filter": "appId eq %s" % odata_string(app["appId"]), "$select": "id,appId,displayName"})
        return found[0] if found else None

    def assignments(self, sp):
        if not sp:
            return []
        return self.graph.list("servicePrincipals/%s/appRoleAssignments" % sp["id"])

    def with_keys(self, app_id, keys):
        """``keys`` with the ``key`` of the certificates the application holds (returned only by a ``$select`` read of it)."""
        held = (self.graph.get("applications/%s" % app_id, params={"$select": "keyCredentials"}) or {}).get("keyCredentials") or []
        by_id = dict(((k.get("keyId") or "").lower(), k.get("key")) for k in held)
        return [dict(k, key=k.get("key") or by_id.get((k.get("keyId") or "").lower())) for k in keys]

    def apply(self, plan, app, sp):
        """Run the plan's calls in order; returns ``(app, sp, secret answer or None)``."""
        ids = {"app": app["id"] if app else None, "appId": app["appId"] if app else None, "sp": sp["id"] if sp else None}
        created = app is None
        secret = None
        for call in plan["calls"]:
            path = call["path"].replace("{app}", ids["app"] or "").replace("{sp}", ids["sp"] or "")
            body = _substitute(call.get("body"), ids)
            if call["op"] == "add_certificate" and any(not k.get("key") for k in body["keyCredentials"]):
                body["keyCredentials"] = self.with_keys(ids["app"], body["keyCredentials"])
            # A new application's service principal and grants may meet replication lag: 404s are retried.
            answer = self.graph.request(call["method"], path, body=body, lagging=created)
            if call["op"] == "create":
                app = answer
                ids.update(app=answer["id"], appId=answer["appId"])
            elif call["op"] == "service_principal":
                sp = answer
                ids["sp"] = answer["id"]
            elif call["op"] == "add_secret":
                secret = answer
        return app, sp, secret


def _substitute(body, ids):
    if isinstance(body, dict):
        return dict((k, _substitute(val, ids)) for k, val in body.items())
    if isinstance(body, list):
        return [_substitute(val, ids) for val in body]
    if body == "{sp}":
        return ids["sp"]
    if body == "{appId}":
        return ids["appId"]
    return body
