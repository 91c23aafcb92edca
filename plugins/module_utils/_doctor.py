# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor: a read-only report of a tenant's readiness for the collection, one line per check.

Plain Python, reachable by unit tests without Ansible: ``Doctor`` takes the clients (or functions that build them) and
runs every check; each check reads, then adds lines ``{"service", "check", "status", "detail", "action"}`` with status
``ok``, ``warning`` or ``error``. A check that fails (a service down, a refused permission, a missing connection) becomes
an error line saying what to do, and the next check runs. Nothing here writes to a tenant.

The application permissions are read from the access tokens' ``roles`` claim: the JWT payload is decoded without checking
its signature (the service that issued it is the one that checks it; the doctor only reads what it was granted).

``snapshot()`` gives the tenant's shape read along the way (domains, SKUs and seats, groups, directory roles, Practice
Protect roles, directories and applications, and the users when asked): no secret, no token, no password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json
import os
import re

from ansible_collections.practiceprotect.m365.plugins.module_utils import _permissions, _roles
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, odata_string
from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_sync import JOB_PATHS

OK, WARNING, ERROR = "ok", "warning", "error"
STATUSES = (OK, WARNING, ERROR)
M365, EXCHANGE, PP = "Microsoft 365", "Exchange Online", "Practice Protect"
SNAPSHOT_VERSION = 1
DEFAULT_REPORT_DIR = "~/.ansible/practiceprotect_m365/reports"  # as the onboard and offboard engines: writable in an execution environment
SWAGGER_PATH = "/vfslow/lib/api/swagger.json"  # the tenant's own API description, no token needed (reference section 9)
# The paths outbound_sync starts and polls jobs with (_pp_sync.JOB_PATHS): this project's contract, UNCONFIRMED.
JOB_ENDPOINTS = tuple(JOB_PATHS.values())
JOB_WORDS = re.compile(r"sync|provision|job|report", re.IGNORECASE)
# App registrations whose name says they serve Practice Protect's token-based provisioning (an assumption: the KB has the
# customer name the app; the names it suggests contain "Practice Protect").
PP_APP_NAME = re.compile(r"practice\s*protect|practiceprotect", re.IGNORECASE)
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's application id (requiredResourceAccess)
GLOBAL_ADMINISTRATOR = "Global Administrator"
PRIVILEGED_AUTH_ADMINISTRATOR = "Privileged Authentication Administrator"
WATCHED_ROLES = (_permissions.EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, PRIVILEGED_AUTH_ADMINISTRATOR)
USER_SELECT = ("id,userPrincipalName,displayName,givenName,surname,mail,mailNickname,jobTitle,department,companyName,officeLocation,"
               "usageLocation,accountEnabled,mobilePhone,assignedLicenses")
GROUP_SELECT = "id,displayName,description,mailNickname,mailEnabled,securityEnabled,groupTypes"
INACTIVE = ("inactive", "offline", "disabled")


def line(service, check, status, detail, action=""):
    return {"service": service, "check": check, "status": status, "detail": detail, "action": action}


def token_claims(token):
    """The payload of a JWT access token, decoded without checking its signature (read-only use: what it was granted)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (AttributeError, IndexError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def _names(items, limit=12):
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + " and %d more" % (len(items) - limit)
    return ", ".join(items) if items else "none"


class Doctor:
    """Runs the checks. ``sources`` gives the clients and facts the checks read, each a function that may raise:

    - ``credential()``: ``{"kind": "client secret" | "certificate", "client_id", "tenant_id", "thumbprint"}`` (never the secret);
    - ``token(resource)``: an access token for ``graph`` or ``exchange`` (a string);
    - ``graph()``, ``exchange()``, ``pp()``: the clients (``GraphClient``, ``ExchangeClient``, ``PracticeProtectClient``);
    - ``swagger()``: the Practice Protect tenant's API description (decoded JSON);
    - ``describe(error)``: ``(sentence, fields)`` for a failed call (``_module.describe_error``);
    - ``pp_missing()``: what the Practice Protect connection lacks, as a sentence, or None.

    ``options``: ``targets`` (modules and roles to check the permissions of), ``service_account`` (its sign-in name or UPN),
    ``pp_app`` (the provisioning application), ``snapshot`` (read the tenant's shape), ``snapshot_users`` (and its users).
    """

    def __init__(self, sources, targets, service_account=None, pp_app="Office 365", snapshot=False, snapshot_users=False,
                 error_types=(Exception,)):
        error_types = tuple(error_types)
        self.src = sources
        self.targets = list(targets)
        self.service_account_name = service_account or _roles.DEFAULT_NAME
        self.pp_app = pp_app
        self.want_snapshot = snapshot or snapshot_users
        self.snapshot_users = snapshot_users
        self.error_types = error_types
        self.lines = []
        self.facts = {"graph_roles": None, "exchange_roles": None, "app_directory_roles": None, "pp_rights": None, "pp_roles": None,
                      "domains": None, "skus": None, "accepted_domains": None, "service_account": None, "app_registrations": None,
                      "job_api": None, "directories": None, "pp_apps": None, "directory_roles": None, "oid": None}
        self.shape = {}

    # -- running -------------------------------------------------------------------------------------------------------

    def add(self, service, check, status, detail, action=""):
        self.lines.append(line(service, check, status, detail, action))

    def _guard(self, service, check, step, action):
        try:
            step()
        except PPNotConfigured as exc:
            self.add(service, check, ERROR, "Not checked: %s" % exc.message, "Set the Practice Protect connection options.")
        except self.error_types as exc:  # one check's failure is its own line; the others run
            self.add(service, check, ERROR, self.src.describe(exc)[0], action)

    def run(self):
        steps = (
            (M365, "credential", self.credential, "Check tenant_id, client_id and client_secret or client_certificate_path."),
            (M365, "token and application permissions", self.tokens,
             "Check tenant_id, client_id and the credential, and that the app is registered in this tenant."),
            (M365, "directory roles of the app", self.directory_roles,
             "Grant RoleManagement.Read.Directory (or Directory.Read.All) so the doctor can read them; see docs/permissions.md."),
            (M365, "domains", self.domains, "Grant Domain.Read.All; see docs/permissions.md."),
            (M365, "licences (SKUs and free seats)", self.skus, "Grant Organization.Read.All; see docs/permissions.md."),
            (EXCHANGE, "reachable with the app's role", self.exchange,
             "Grant Exchange.ManageAsApp (Office 365 Exchange Online API) with admin consent and assign the Exchange Administrator "
             "role to the app; see docs/permissions.md."),
            (M365, "service account", self.service_account, "Grant User.Read.All and RoleManagement.Read.Directory; see docs/permissions.md."),
            (M365, "app registrations for Practice Protect", self.app_registrations,
             "Grant Application.Read.All to let the doctor see the app registrations (optional)."),
            (PP, "token", self.pp_token, "Check pp_url, pp_app_id, pp_client_id and pp_client_secret; see docs/getting-started.md."),
            (PP, "admin rights of the client", self.pp_rights, "Give the client's role an admin right; see docs/permissions.md."),
            (PP, "directories", self.pp_directories, "Give the client's role an admin right (Read Only System Administration)."),
            (PP, "roles", self.pp_roles, "Give the client's role an admin right (Read Only System Administration)."),
            (PP, "application %s" % self.pp_app, self.pp_application, "Give the client's role an admin right (Read Only System Administration)."),
            (PP, "job API (swagger)", self.pp_job_api, "Check that %s answers on pp_url." % SWAGGER_PATH),
        )
        for service, check, step, action in steps:
            self._guard(service, check, step, action)
        self._guard(M365, "permissions per module and role", self.permissions, "See docs/permissions.md.")
        self._guard(PP, "provisioning mechanism", self.provisioning, "See docs/doctor.md.")
        if self.want_snapshot:
            self._guard(M365, "snapshot", self.read_shape, "Grant what the line names, or leave snapshot_path out.")
        return self.lines

    # -- Microsoft 365 -------------------------------------------------------------------------------------------------

    def credential(self):
        cred = self.src.credential()
        detail = "%s of app %s in tenant %s" % (cred["kind"], cred["client_id"], cred["tenant_id"])
        if cred.get("thumbprint"):
            detail += " (thumbprint %s)" % cred["thumbprint"]
        self.add(M365, "credential", OK, detail + "; the secret itself is never shown.")

    def tokens(self):
        claims = token_claims(self.src.token("graph"))
        if claims is None:
            self.add(M365, "token and application permissions", ERROR, "The Graph access token is not a JWT the doctor can read.",
                     "Check graph_url: it must be Microsoft Graph's.")
            return
        roles = sorted(claims.get("roles") or [])
        self.facts["graph_roles"] = roles
        self.facts["oid"] = claims.get("oid")
        status, action = OK, ""
        if not roles:
            status, action = ERROR, ("Add Microsoft Graph application permissions to the app and grant admin consent "
                                     "(API permissions > Grant admin consent); see docs/permissions.md.")
        self.add(M365, "token and application permissions", status,
                 "Graph token (roles claim, read without checking the signature) carries %d application permission%s: %s." % (
                     len(roles), "" if len(roles) == 1 else "s", _names(roles, 30)), action)

    def directory_roles(self):
        graph = self.src.graph()
        roles = graph.list("directoryRoles", params={"$select": "id,displayName,roleTemplateId"})
        self.facts["directory_roles"] = sorted((r.get("displayName") or r.get("roleTemplateId") or "") for r in roles)
        held = []
        oid = (self.facts.get("oid") or "").lower()
        client_id = (self.src.credential().get("client_id") or "").lower()
        for role in roles:
            if role.get("displayName") not in WATCHED_ROLES:
                continue
            for member in graph.list("directoryRoles/%s/members" % role["id"]):
                if (member.get("id") or "").lower() == oid or (member.get("appId") or "").lower() == client_id:
                    held.append(role["displayName"])
                    break
        self.facts["app_directory_roles"] = held
        needed = [t for t in self.targets if self._needs(t)["exchange_role"]]
        if not set(held) & set(_permissions.EXCHANGE_ROLES) and needed:
            self.add(M365, "directory roles of the app", ERROR,
                     "The app holds %s; %s need%s the Exchange Administrator directory role for Exchange Online." % (
                         _names(held) if held else "no directory role", _names(needed), "s" if len(needed) == 1 else ""),
                     "Entra admin centre > Roles and administrators > Exchange Administrator > Add assignments > the app.")
        elif GLOBAL_ADMINISTRATOR in held:
            self.add(M365, "directory roles of the app", WARNING, "The app holds %s." % _names(held),
                     "Global Administrator is more than the modules need: Exchange Administrator is enough (docs/permissions.md).")
        else:
            self.add(M365, "directory roles of the app", OK, "The app holds %s." % (_names(held) if held else "no directory role"))

    def domains(self):
        domains = self.src.graph().list("domains")
        self.facts["domains"] = domains
        verified = [d["id"] for d in domains if d.get("isVerified")]
        unverified = [d["id"] for d in domains if not d.get("isVerified")]
        initial = [d["id"] for d in domains if d.get("isInitial")]
        default = [d["id"] for d in domains if d.get("isDefault")]
        detail = "Verified: %s (default %s, initial %s)." % (_names(verified), _names(default), _names(initial))
        if unverified:
            self.add(M365, "domains", WARNING, detail + " Not verified: %s." % _names(unverified),
                     "Users and aliases can only use verified domains: verify %s in the admin centre, or do not use it." % _names(unverified))
        else:
            self.add(M365, "domains", OK, detail)

    def skus(self):
        skus = self.src.graph().list("subscribedSkus")
        self.facts["skus"] = skus
        parts, full = [], []
        for sku in sorted(skus, key=lambda s: s.get("skuPartNumber") or ""):
            enabled = (sku.get("prepaidUnits") or {}).get("enabled") or 0
            consumed = sku.get("consumedUnits") or 0
            free = max(0, enabled - consumed)
            parts.append("%s %d of %d free" % (sku.get("skuPartNumber"), free, enabled))
            if sku.get("capabilityStatus", "Enabled") == "Enabled" and enabled and not free:
                full.append(sku.get("skuPartNumber"))
        detail = "%s." % "; ".join(parts) if parts else "The tenant has no subscription."
        if full:
            self.add(M365, "licences (SKUs and free seats)", WARNING, detail,
                     "No free seat of %s: buy seats or free one before onboarding anyone with it." % _names(full))
        elif not parts:
            self.add(M365, "licences (SKUs and free seats)", WARNING, detail, "Joiners cannot get a licence until the tenant has one.")
        else:
            self.add(M365, "licences (SKUs and free seats)", OK, detail)

    def exchange(self):
        claims = token_claims(self.src.token("exchange"))
        self.facts["exchange_roles"] = sorted((claims or {}).get("roles") or [])
        accepted = [d.get("DomainName") or d.get("Name") for d in self.src.exchange().invoke("Get-AcceptedDomain")]
        self.facts["accepted_domains"] = accepted
        detail = "Get-AcceptedDomain answered as the app: accepted domains %s." % _names(accepted)
        verified = [d["id"] for d in self.facts["domains"] or [] if d.get("isVerified") and "Email" in (d.get("supportedServices") or ["Email"])]
        lower = set(a.lower() for a in accepted if a)
        missing = [d for d in verified if d.lower() not in lower]
        if missing:
            self.add(EXCHANGE, "reachable with the app's role", WARNING, detail + " Verified for e-mail but not accepted: %s." % _names(missing),
                     "Aliases on %s are refused until Exchange accepts the domain (it usually follows verification within an hour)." % (
                         _names(missing)))
        else:
            self.add(EXCHANGE, "reachable with the app's role", OK, detail)

    def service_account(self):
        graph = self.src.graph()
        name = self.service_account_name
        if "@" not in name:
            initial = [d["id"] for d in self.facts["domains"] or [] if d.get("isInitial")]
            if not initial:
                initial = [d["id"] for d in graph.list("domains") if d.get("isInitial")]
            name = "%s@%s" % (name, initial[0]) if initial else name
        user = graph.get_or_none("users/%s" % name, params={"$select": "id,userPrincipalName,accountEnabled,assignedLicenses"})
        if user is None:
            self.facts["service_account"] = {"upn": name, "exists": False, "roles": []}
            self.add(M365, "service account", OK, "%s does not exist (not needed with token-based provisioning)." % name,
                     "Federated tenants with the older provisioning method need it: run the service_account role.")
            return
        assignments = graph.list(_roles.ASSIGNMENTS, params={"$filter": "principalId eq %s" % odata_string(user["id"])})
        definitions = graph.list(_roles.DEFINITIONS, params={"$select": "id,displayName,templateId"}) if assignments else []
        roles = sorted(_roles.role_name(a.get("roleDefinitionId"), definitions) for a in assignments)
        licences = [lic.get("skuId") for lic in user.get("assignedLicenses") or []]
        self.facts["service_account"] = {"upn": user.get("userPrincipalName") or name, "exists": True, "roles": roles,
                                         "licensed": bool(licences), "enabled": user.get("accountEnabled", True)}
        detail = "%s exists, holds %s, %s, sign-in %s." % (user.get("userPrincipalName") or name, _names(roles) if roles else "no directory role",
                                                           "licensed" if licences else "no licence",
                                                           "allowed" if user.get("accountEnabled", True) else "blocked")
        problems = []
        if licences:
            problems.append("remove its licence (the service_account module does)")
        if not roles:
            problems.append("give it the role its purpose needs (service_account with purpose)")
        if not user.get("accountEnabled", True):
            problems.append("allow its sign-in, or remove it if Practice Protect no longer uses it")
        self.add(M365, "service account", WARNING if problems else OK, detail, ("; ".join(problems) + ".").capitalize() if problems else "")

    def app_registrations(self):
        try:
            apps = self.src.graph().list("applications", params={"$select": "id,appId,displayName,requiredResourceAccess"})
        except GraphError as exc:
            self.facts["app_registrations"] = None
            if exc.status == 403:
                self.add(M365, "app registrations for Practice Protect", WARNING,
                         "The app may not read app registrations, so the doctor cannot see a token-based provisioning app.",
                         "Grant Application.Read.All (optional) to let the doctor find it.")
            else:
                self.add(M365, "app registrations for Practice Protect", WARNING, "App registrations could not be listed: %s" % exc.message,
                         "Check the token-based provisioning app in Entra admin centre > App registrations.")
            return
        found = []
        for app in apps:
            if PP_APP_NAME.search(app.get("displayName") or ""):
                graph_roles = [access for resource in app.get("requiredResourceAccess") or [] if resource.get("resourceAppId") == GRAPH_APP_ID
                               for access in resource.get("resourceAccess") or [] if access.get("type") == "Role"]
                found.append({"displayName": app.get("displayName"), "appId": app.get("appId"), "graph_application_permissions": len(graph_roles)})
        self.facts["app_registrations"] = found
        if found:
            described = ["%s (app id %s, %d Graph application permission%s)" % (
                a["displayName"], a["appId"], a["graph_application_permissions"], "" if a["graph_application_permissions"] == 1 else "s")
                for a in found]
            self.add(M365, "app registrations for Practice Protect", OK, "; ".join(described) + ".")
        else:
            self.add(M365, "app registrations for Practice Protect", OK, "No app registration is named like Practice Protect (of %d)." % len(apps))

    def permissions(self):
        """One line per module and role: the permissions its row in docs/permissions.md names that the app lacks."""
        graph_roles, exchange_roles = self.facts["graph_roles"], self.facts["exchange_roles"]
        held = self.facts["app_directory_roles"]
        rights = self.facts["pp_rights"]
        for target in self.targets:
            need = self._needs(target)
            graph_needed = [p for p in need["permissions"] if p != _permissions.EXCHANGE_PERMISSION]
            unknown, missing = [], []
            if graph_needed:
                if graph_roles is None:
                    unknown.append("Microsoft Graph permissions (no token)")
                else:
                    missing.extend(_permissions.missing_permissions(graph_needed, graph_roles))
            if _permissions.EXCHANGE_PERMISSION in need["permissions"]:
                if exchange_roles is None:
                    unknown.append("Exchange.ManageAsApp (no Exchange token)")
                elif _permissions.EXCHANGE_PERMISSION not in exchange_roles:
                    missing.append(_permissions.EXCHANGE_PERMISSION)
            if need["exchange_role"]:
                if held is None:
                    unknown.append("the Exchange Administrator role (directory roles not read)")
                elif not set(held) & set(_permissions.EXCHANGE_ROLES):
                    missing.append("the Exchange Administrator directory role")
            if need["admin_rights"]:
                if rights is None:
                    unknown.append("Practice Protect admin rights (not read)")
                else:
                    missing.extend("the %s admin right" % r for r in need["admin_rights"] if not self._has_right(r, rights))
            label = target if target in _permissions.MODULE_NEEDS else "role %s" % target
            service = M365 if need["permissions"] else PP
            if missing:
                self.add(service, "permissions of %s" % label, ERROR, "Lacks %s." % _names(missing, 20),
                         "Grant %s to the %s (docs/permissions.md: application permissions with admin consent, the directory role, "
                         "the admin rights)." % (_names(missing, 20), "app" if service == M365 else "Practice Protect client's role"))
            elif unknown:
                self.add(service, "permissions of %s" % label, WARNING, "Not checked: %s." % _names(unknown),
                         "Fix the failed line above, then run the doctor again.")
            else:
                held_needs = need["permissions"] + ([_permissions.EXCHANGE_ADMINISTRATOR] if need["exchange_role"] else []) + need["admin_rights"]
                self.add(service, "permissions of %s" % label, OK, "Has what docs/permissions.md lists: %s." % _names(held_needs, 20))

    @staticmethod
    def _needs(target):
        return _permissions.needs(target)

    @staticmethod
    def _has_right(right, rights):
        if _permissions.PP_ALL_RIGHTS in rights:
            return True
        if right == _permissions.PP_READ_RIGHT:
            return bool(rights)  # any admin right allows the reads
        return right in rights

    # -- Practice Protect ------------------------------------------------------------------------------------------------

    def _pp(self):
        missing = self.src.pp_missing()
        if missing:
            raise PPNotConfigured(missing)
        return self.src.pp()

    def pp_token(self):
        client = self._pp()
        client.token()
        self.add(PP, "token", OK, "Client %s got a token for app %s (scope %s)." % (client.client_id, client.app_id, client.scope))

    def pp_rights(self):
        client = self._pp()
        me = client.call("whoami") or {}
        user_id = me.get("UserUuid") or me.get("UserId") or me.get("Uuid")
        if not user_id:  # UNCONFIRMED: the Whoami fields; find the client's own user by name instead
            rows = [u for u in client.users() if (u.get("Username") or "").lower() == (client.client_id or "").lower()]
            user_id = rows[0]["ID"] if rows else None
        if not user_id:
            self.add(PP, "admin rights of the client", WARNING, "The client's own user was not found, so its roles were not read.",
                     "Check that pp_client_id is the confidential client's login name.")
            return
        roles = client.user_roles(user_id)
        rights = set()
        for role in roles:
            rights.update(role["AdministrativeRights"])
            if (role.get("Name") or "").lower() in ("system administrator", "sysadmin"):
                rights.add(_permissions.PP_ALL_RIGHTS)
        self.facts["pp_rights"] = sorted(rights)
        names = [r["Name"] for r in roles if r.get("Name")]
        detail = "Roles %s; admin rights %s." % (_names(names), _names(sorted(rights)))
        if not rights:
            self.add(PP, "admin rights of the client", ERROR, detail,
                     "Add the client to a role with the admin rights docs/permissions.md lists (Admin Portal > Roles > Administrative Rights).")
        elif _permissions.PP_ALL_RIGHTS in rights:
            self.add(PP, "admin rights of the client", WARNING, detail,
                     "System Administrator is more than the modules need: prefer a role with the rights docs/permissions.md lists.")
        else:
            self.add(PP, "admin rights of the client", OK, detail)

    def pp_directories(self):
        rows = self._pp().directory_services()
        self.facts["directories"] = rows
        active, inactive = [], []
        for row in rows:
            status = row.get("Status") or row.get("StatusDisplay") or ""
            label = "%s %s" % (row.get("Service") or "?", row.get("DisplayName") or row.get("Name") or "")
            (inactive if status.lower() in INACTIVE else active).append("%s (%s)" % (label.strip(), status or "no status"))
        detail = "Active: %s. Inactive (skipped): %s." % (_names(active), _names(inactive))
        if not any((r.get("Service") or "").upper() == "CDS" for r in rows):
            self.add(PP, "directories", ERROR, detail, "The cloud directory (CDS) is missing: pp_user cannot create users; ask Practice Protect.")
        else:
            self.add(PP, "directories", OK, detail)

    def pp_roles(self):
        roles = self._pp().roles()
        self.facts["pp_roles"] = roles
        names = sorted(r.get("Name") for r in roles if r.get("Name"))
        detail = "%d roles: %s." % (len(names), _names(names, 15))
        if self.pp_app.lower() not in [n.lower() for n in names]:
            self.add(PP, "roles", WARNING, detail + " No role named %s." % self.pp_app,
                     "The %s application provisions the members of the role of the same name: create it for federated joiners." % self.pp_app)
        else:
            self.add(PP, "roles", OK, detail)

    def pp_application(self):
        apps = self._pp().applications()
        self.facts["pp_apps"] = apps
        check = "application %s" % self.pp_app
        found = [a for a in apps if self.pp_app.lower() in ((a.get("Name") or "").lower(), (a.get("DisplayName") or "").lower())]
        if not found:
            self.add(PP, check, WARNING, "No application named %s (applications: %s)." % (self.pp_app, _names(sorted(a.get("Name") or "" for a in apps))),
                     "Federated deployments need it: add the Office 365 application in the Admin Portal (or set pp_app).")
            return
        app = found[0]
        flags = "capable %s, configured %s, enabled %s" % (app.get("ProvCapable"), app.get("ProvConfigured"), app.get("ProvSettingEnabled"))
        if app.get("ProvConfigured") and app.get("ProvSettingEnabled"):
            self.add(PP, check, OK, "Outbound provisioning configured and enabled (%s)." % flags)
        else:
            self.add(PP, check, WARNING, "Outbound provisioning not ready (%s)." % flags,
                     "Federated deployments need it: Admin Portal > Apps > %s > Provisioning." % app.get("Name"))

    def pp_job_api(self):
        missing = self.src.pp_missing()
        if missing:
            raise PPNotConfigured(missing)
        swagger = self.src.swagger()
        paths = sorted((swagger or {}).get("paths") or {}) if isinstance(swagger, dict) else []
        if not paths:
            self.facts["job_api"] = {"listed": [], "missing": list(JOB_ENDPOINTS), "candidates": []}
            self.add(PP, "job API (swagger)", WARNING, "%s lists no paths." % SWAGGER_PATH,
                     "The job API is unconfirmed on this tenant: outbound_sync's mode auto (the default) falls back to waiting for "
                     "Microsoft 365; mode wait never calls it.")
            return
        lower = set(p.lower() for p in paths)
        ours = list(JOB_ENDPOINTS)
        listed = [p for p in ours if p.lower() in lower]
        candidates = [p for p in paths if JOB_WORDS.search(p)]
        self.facts["job_api"] = {"listed": listed, "missing": [p for p in ours if p not in listed], "candidates": candidates}
        detail = "%d paths; sync/job paths: %s." % (len(paths), _names(candidates, 20))
        if len(listed) == len(ours):
            self.add(PP, "job API (swagger)", OK, detail + " The job paths outbound_sync uses are listed.")
        else:
            self.add(PP, "job API (swagger)", WARNING, detail + " Not listed: %s." % _names([p for p in ours if p not in listed]),
                     "outbound_sync cannot start a job here: use its mode wait (or auto, the default, which falls back to it) to wait for "
                     "Microsoft 365 (the sync runs on role changes and on schedule), or point job_paths at the tenant's own job endpoints "
                     "above.")

    def provisioning(self):
        """Which provisioning mechanism the tenant offers, from what the other checks read."""
        apps = self.facts["app_registrations"]
        account = self.facts["service_account"] or {}
        job = self.facts["job_api"]
        evidence = []
        token_based = bool(apps)
        if apps:
            evidence.append("app registration %s" % _names(a["displayName"] for a in apps))
        federation = account.get("exists") and GLOBAL_ADMINISTRATOR in account.get("roles", [])
        if account.get("exists"):
            evidence.append("service account %s with %s" % (account["upn"], _names(account["roles"]) if account["roles"] else "no role"))
        if job is not None:
            evidence.append("job API %s" % ("listed" if not job["missing"] else "not listed"))
        detail = "Evidence: %s." % ("; ".join(evidence) if evidence else "none")
        if token_based and federation:
            self.add(PP, "provisioning mechanism", WARNING, "Both token-based and service-account provisioning are set up. " + detail,
                     "Practice Protect requires token-based provisioning for new tenants: remove the Global Administrator service account "
                     "once the app registration serves, and set the federated path's method to token.")
        elif token_based:
            self.add(PP, "provisioning mechanism", OK, "Token-based (Entra ID app registration): Microsoft 365 owns aliases and licences. " + detail)
        elif federation:
            self.add(PP, "provisioning mechanism", OK, "Service account (Global Administrator): aliases from the Practice Protect attribute, "
                                                       "licence from the sync. " + detail)
        else:
            seen = self.facts.get("app_registrations") is not None  # the app registrations were read, and none is Practice Protect's
            self.add(PP, "provisioning mechanism", WARNING, "Not determined. " + detail,
                     ("Set up one of the two methods: the app_registration role (token-based, for new tenants) or the service_account "
                      "role (the older method); see docs/onboarding.md." if seen else
                      "Grant Application.Read.All so the doctor can see a token-based provisioning app, or set up one of the two methods "
                      "(docs/doctor.md)."))

    # -- snapshot --------------------------------------------------------------------------------------------------------

    def read_shape(self):
        """Read what the snapshot holds beyond the checks' reads (groups, users when asked, Practice Protect users)."""
        graph = self.src.graph()
        shape = {"domains": [dict((k, d.get(k)) for k in ("id", "isVerified", "isDefault", "isInitial", "supportedServices"))
                             for d in self.facts["domains"] or graph.list("domains")],
                 "skus": [{"skuId": s.get("skuId"), "skuPartNumber": s.get("skuPartNumber"), "capabilityStatus": s.get("capabilityStatus"),
                           "prepaidUnits": {"enabled": (s.get("prepaidUnits") or {}).get("enabled") or 0}, "consumedUnits": s.get("consumedUnits") or 0,
                           "servicePlans": [{"servicePlanId": p.get("servicePlanId"), "servicePlanName": p.get("servicePlanName")}
                                            for p in s.get("servicePlans") or []]}
                          for s in self.facts["skus"] or graph.list("subscribedSkus")],
                 "directory_roles": self.facts["directory_roles"] or sorted(r.get("displayName") for r in graph.list("directoryRoles")),
                 "groups": []}
        groups = graph.list("groups", params={"$select": GROUP_SELECT})
        users = graph.list("users", params={"$select": USER_SELECT}) if self.snapshot_users else []
        upn_of = dict((u["id"], u.get("userPrincipalName")) for u in users)
        name_of = dict((g["id"], g.get("displayName")) for g in groups)
        for group in sorted(groups, key=lambda g: (g.get("displayName") or "").lower()):  # the same order whatever the tenant's
            entry = dict((k, group.get(k)) for k in GROUP_SELECT.split(",") if k != "id")
            members = graph.list("groups/%s/members" % group["id"], params={"$select": "id"})
            entry["members"] = [upn_of.get(m["id"]) or name_of.get(m["id"]) for m in members
                                if m.get("id") in name_of or (self.snapshot_users and m.get("id") in upn_of)]
            shape["groups"].append(entry)
        if self.snapshot_users:
            assignments = graph.list(_roles.ASSIGNMENTS)
            definitions = graph.list(_roles.DEFINITIONS, params={"$select": "id,displayName,templateId"}) if assignments else []
            roles_of = {}
            for assignment in assignments:
                roles_of.setdefault(assignment.get("principalId"), []).append(_roles.role_name(assignment.get("roleDefinitionId"), definitions))
            shape["users"] = []
            for user in users:
                entry = dict((k, user.get(k)) for k in USER_SELECT.split(",") if k not in ("id", "assignedLicenses"))
                entry["licenses"] = [lic.get("skuId") for lic in user.get("assignedLicenses") or []]
                entry["directoryRoles"] = sorted(roles_of.get(user["id"], []))
                shape["users"].append(entry)
        self.shape = shape
        self._pp_shape()

    def _pp_shape(self):
        """Practice Protect's part of the snapshot; left out (with a line) when Practice Protect cannot be read."""
        try:
            client = self._pp()
            roles = self.facts["pp_roles"] if self.facts["pp_roles"] is not None else client.roles()
            pp = {"roles": [{"Name": r.get("Name"), "Description": r.get("Description")} for r in roles],
                  "directories": [dict((k, d.get(k)) for k in ("Service", "DisplayName", "Name", "Status")) for d in
                                  (self.facts["directories"] if self.facts["directories"] is not None else client.directory_services())],
                  "applications": [dict((k, a.get(k)) for k in ("Name", "DisplayName", "ProvCapable", "ProvConfigured", "ProvSettingEnabled"))
                                   for a in (self.facts["pp_apps"] if self.facts["pp_apps"] is not None else client.applications())]}
            if self.snapshot_users:
                members = {}
                for role in roles:
                    for row in client.role_members(role["ID"]):
                        members.setdefault(row.get("Guid"), []).append(role.get("Name"))
                pp["users"] = [{"Name": u.get("Username"), "DisplayName": u.get("DisplayName"), "Mail": u.get("Email"),
                                "Source": u.get("SourceDsType"), "Status": u.get("Status"), "Roles": sorted(members.get(u.get("ID"), []))}
                               for u in client.users()]
            self.shape["practice_protect"] = pp
        except self.error_types + (PPNotConfigured,) as exc:
            reason = exc.message if isinstance(exc, PPNotConfigured) else self.src.describe(exc)[0]
            self.add(PP, "snapshot", WARNING, "Practice Protect's part of the snapshot was left out: %s" % reason,
                     "Fix the Practice Protect lines above and run the doctor again for a complete snapshot.")

    def snapshot(self, now=None):
        out = {"snapshot_version": SNAPSHOT_VERSION, "taken": now or utc_now(), "users_included": self.snapshot_users}
        out.update(self.shape)
        return out


class PPNotConfigured(Exception):
    """The Practice Protect connection options are not all set."""

    def __init__(self, message):
        super(PPNotConfigured, self).__init__(message)
        self.message = message


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# -- output --------------------------------------------------------------------------------------------------------------

def summary(lines):
    return dict((status, sum(1 for item in lines if item["status"] == status)) for status in STATUSES)


def text_report(lines):
    """The report as plain text: one line per check, what to do under it."""
    width = max([len(item["check"]) for item in lines] + [5])
    out = []
    for item in lines:
        out.append("%-7s %-16s %-*s  %s" % (item["status"].upper(), item["service"], width, item["check"], item["detail"]))
        if item["action"]:
            out.append("%-7s %-16s %-*s  -> %s" % ("", "", width, "", item["action"]))
    counts = summary(lines)
    out.append("%d ok, %d warning%s, %d error%s." % (
        counts[OK], counts[WARNING], "" if counts[WARNING] == 1 else "s", counts[ERROR], "" if counts[ERROR] == 1 else "s"))
    return "\n".join(out)


def _cell(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")


def markdown_report(lines, started, finished):
    counts = summary(lines)
    out = ["# Tenant readiness (practiceprotect.m365 doctor)", "",
           "Run %s to %s: %d ok, %d warning(s), %d error(s)." % (started, finished, counts[OK], counts[WARNING], counts[ERROR]), "",
           "| Status | Service | Check | Result | What to do |", "|---|---|---|---|---|"]
    for item in lines:
        out.append("| %s | %s | %s | %s | %s |" % (item["status"], item["service"], _cell(item["check"]), _cell(item["detail"]), _cell(item["action"])))
    return "\n".join(out) + "\n"


def write_reports(directory, lines, started, finished, check_mode=False):
    """The Markdown and JSON reports in ``directory`` (created, mode 0700); returns their paths."""
    directory = os.path.expanduser(directory)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    base = os.path.join(directory, "doctor-%s%s" % (stamp, "-check" if check_mode else ""))
    with open(base + ".md", "w") as handle:
        handle.write(markdown_report(lines, started, finished))
    with open(base + ".json", "w") as handle:
        json.dump({"started": started, "finished": finished, "summary": summary(lines), "checks": lines}, handle, indent=1, sort_keys=True)
    return {"markdown": base + ".md", "json": base + ".json"}


def write_snapshot(path, snapshot):
    """Write the snapshot (JSON, mode 0600: it describes the tenant, though it holds no secret)."""
    path = os.path.expanduser(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(snapshot, handle, indent=1, sort_keys=True)
    return os.path.abspath(path)
