"""The Practice Protect tenant: a white-labelled Centrify / Idaptive / CyberArk Identity tenant.

Plain Python, like ``state.Tenant``: the Practice Protect app (pp.py) turns HTTP calls into calls of ``PPTenant``,
and the provisioning engine (pp_provisioning.py) writes into the Graph tenant through ``Tenant`` methods.

What it holds:

- the cloud directory (CDS): users created here, with login names ``login@suffix``;
- the Azure AD source directory: a live mirror of the Graph tenant's active users (``Tenant.list_users``), so inviting
  finds the users ``m365_user`` created; invited users join the Practice Protect user list, keyed by their Graph id;
- additional attributes (``ExtData``): a schema of columns and a value map per user;
- roles with members (Everybody is implicit: every user with ``InEverybodyRole``), admin rights per role;
- applications, among them "Office 365" with outbound provisioning configured;
- OAuth2 confidential clients (service users) and the bearer tokens issued to them;
- provisioning jobs (pp_provisioning.Engine).

Every method raises ``PPError`` for a business error; the app answers it as HTTP 200 with ``success: false``.
Facts: reference/practice_protect.md. Wording of error messages and the ErrorID values are UNCONFIRMED
(the reference has no ErrorID catalogue) unless a comment says where they come from.
"""

import base64
import copy
import datetime
import difflib
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
import uuid

from . import secret_log
from .errors import GraphError

# ----------------------------------------------------------------------------------------------------------------
# Fixed identifiers of the seed

CDS_UUID = "09b9a9b0-6ce8-465f-ab03-65766d33b05e"
AAD_UUID = "3f4a7c21-5d9e-4b8a-a6c2-1e0f9d8b7a63"
PP_TENANT_ID = "AAB1234"

# The "real_tenant_variants" profile (realism knob pp_profile; reference section 12): directory services as a real tenant lists
# them. The rows' shape, the always-present FDS (with its id) and the inactive AdProxy and GDS directories are those of the
# sample GetDirectoryServices answer in marcozj/golang-sdk (platform/centrify_directoryservice.go).
VARIANTS = "real_tenant_variants"
FDS_UUID = "c30b30b1-0b46-49ac-8d99-f6279eed7999"
ADPROXY_UUID = "e3344ea3-429c-c901-8854-1a72ea1404b9"
GDS_UUID = "b3c443a6-1186-4ff1-99f0-8ad8bd6104f8"
# UNCONFIRMED: the Service code of an Entra ID source directory. The default profile says AzureAD; the variant another code,
# so that nothing can rest on either (select the directory by DisplayName, reference section 3.2).
AAD_SERVICE = "AzureAD"
AAD_SERVICE_VARIANT = "AAD"
OAUTH_APP_ID = "ansible"  # the OAuth2 Client web app's Application ID ({appId} of /oauth2/token/{appId})
OAUTH_SCOPES = ("all",)
SERVICE_CLIENT_ID = "ansible.automation@northwindacct.com"  # the confidential-client service user
SERVICE_CLIENT_UUID = "7d0c2b1e-3a4f-4e5d-8c6b-9a0f1e2d3c4b"
LOGIN_SUFFIXES = ("northwindacct.com", "northwind-legacy.com")
TOKEN_LIFETIME_S = 3600

# Role ids: Centrify writes role ids as GUIDs with underscores; the built-in System Administrator role is "sysadmin".
# Both are UNCONFIRMED details of the format; "Everybody" as the id of the Everybody role is UNCONFIRMED too.
SYSADMIN_ROLE = "sysadmin"
EVERYBODY_ROLE = "Everybody"
OFFICE365_ROLE = "b1a6c3d2_4e5f_4a7b_8c9d_0e1f2a3b4c5d"
PORTAL_ROLE = "c2b7d4e3_5f6a_4b8c_9d0e_1f2a3b4c5d6e"
TAX_ROLE = "d3c8e5f4_6a7b_4c9d_8e1f_2a3b4c5d6e7f"
AUDIT_ROLE = "e4d9f6a5_7b8c_4d0e_9f2a_3b4c5d6e7f80"

OFFICE365_APP = "5a2e7f9c-1b3d-4e6f-8a0b-2c4d6e8f0a1b"
XERO_APP = "6b3f8a0d-2c4e-4f7a-9b1c-3d5e7f9a1b2c"
DROPBOX_APP = "7c4a9b1e-3d5f-4a8b-8c2d-4e6f8a0b2c3d"

# Admin rights (portal names). System Administrator holds all of them.
USER_MANAGEMENT = "User Management"
ROLE_MANAGEMENT = "Role Management"
APPLICATION_MANAGEMENT = "Application Management"
READ_ONLY_ADMIN = "Read Only System Administration"
ALL_RIGHTS = (USER_MANAGEMENT, ROLE_MANAGEMENT, APPLICATION_MANAGEMENT, READ_ONLY_ADMIN)

PROXY_COLUMN = "O365_ProxyAddresses"  # UNCONFIRMED: the real column name behind the "proxyAddresses" attribute
COLUMN_TYPES = ("Text", "Integer", "Boolean", "Date")
COLUMN_LIMIT = 10

USER_STATES = ("None", "Locked", "Disabled", "Expired")
MAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_LOCAL_RE = re.compile(r"^[A-Za-z0-9._'+!#^~-]+$")


class PPError(Exception):
    """A business error: HTTP 200 with success false, Message and ErrorID."""

    def __init__(self, message, error_id, result=None):
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.result = result


def envelope(result=None, error=None):
    """The Centrify answer: {success, Result, Message, MessageID, Exception, ErrorID, ErrorCode, IsSoftError, InnerExceptions}."""
    if error is None:
        return {"success": True, "Result": result, "Message": None, "MessageID": None, "Exception": None, "ErrorID": None,
                "ErrorCode": None, "IsSoftError": False, "InnerExceptions": None}
    return {"success": False, "Result": error.result, "Message": error.message, "MessageID": None, "Exception": None,
            "ErrorID": error.error_id, "ErrorCode": None, "IsSoftError": False, "InnerExceptions": None}


def now_iso(ts=None):
    moment = datetime.datetime.fromtimestamp(ts if ts is not None else time.time(), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def centrify_date(ts=None):
    """Centrify's JSON date form, ``/Date(<ms since epoch>)/`` (UNCONFIRMED for Redrock rows; ark-sdk parses it)."""
    return "/Date(%d)/" % int((ts if ts is not None else time.time()) * 1000)


def anchor_of(user_id):
    """The onPremisesImmutableId the provisioning engine writes for a Practice Protect user: base64 of the UUID's bytes in
    .NET (little-endian) order, as directory synchronisation tools anchor users. UNCONFIRMED for Practice Protect."""
    return base64.b64encode(uuid.UUID(user_id).bytes_le).decode("ascii")


def user_of_anchor(value):
    """The Practice Protect user id an onPremisesImmutableId stands for, or None when it is not such an anchor."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return None
    if len(raw) != 16:
        return None
    return str(uuid.UUID(bytes_le=raw))


def as_bool(value, default=None):
    """CyberArk SDKs send booleans as strings ("true"/"false")."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PPError("Invalid boolean value '%s'." % (value,), "InvalidArgument")


def close_matches(word, candidates, n=3):
    lowered = {c.lower(): c for c in candidates}
    return [lowered[m] for m in difflib.get_close_matches((word or "").lower(), list(lowered), n=n, cutoff=0.6)]


def hash_secret(value):
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), salt, 1000)
    return (salt, digest)


def check_secret(stored, value):
    if not stored or not isinstance(value, str):
        return False
    salt, digest = stored
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), salt, 1000), digest)


def password_meets_policy(password):
    """The sandbox's password policy: 8 to 64 characters with a digit, a lower-case and an upper-case letter
    (Practice Protect's default policy is UNCONFIRMED)."""
    return (isinstance(password, str) and 8 <= len(password) <= 64 and bool(re.search(r"[0-9]", password))
            and bool(re.search(r"[a-z]", password)) and bool(re.search(r"[A-Z]", password)))


def random_password():
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%+-=?@^_"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(20))
        if password_meets_policy(candidate):
            return secret_log.record("generated_password", candidate, "pp random_password")


# ----------------------------------------------------------------------------------------------------------------
# Seed

SEED_COLUMNS = [
    {"Name": PROXY_COLUMN, "Title": "proxyAddresses", "Type": "Text", "UserEditable": False,
     "Description": "E-mail addresses for Office 365: SMTP:primary@domain;smtp:alias@domain"},
    {"Name": "Cost_Centre", "Title": "Cost Centre", "Type": "Text", "UserEditable": False, "Description": "Finance cost centre"},
    {"Name": "Staff_Number", "Title": "Staff Number", "Type": "Integer", "UserEditable": False, "Description": "Payroll number"},
]

SEED_ROLES = [
    # id, name, description, read only, admin rights
    (SYSADMIN_ROLE, "System Administrator", "Administrators of this Practice Protect tenant.", True, list(ALL_RIGHTS)),
    (EVERYBODY_ROLE, "Everybody", "Every user of the tenant (implicit).", True, []),
    (OFFICE365_ROLE, "Office 365", "Members are provisioned to Office 365 by the Office 365 app.", False, []),
    (PORTAL_ROLE, "Portal Access", "Portal login, GEO-locked to Australia by policy.", False, []),
    (TAX_ROLE, "Tax Team", "Tax practice applications.", False, []),
    (AUDIT_ROLE, "Audit Team", "Audit practice applications.", False, []),
]

# login, display name, mail, mobile, roles, attributes
SEED_USERS = [
    ("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "sarah.jones@northwindacct.com", "Sarah Jones", "sarah.jones@northwindacct.com", "+61412000111",
     [OFFICE365_ROLE, PORTAL_ROLE, AUDIT_ROLE], {PROXY_COLUMN: "SMTP:sarah.jones@northwindacct.com", "Cost_Centre": "AUD-100"}),
    ("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e", "tom.baker@northwindacct.com", "Tom Baker", "tom.baker@northwindacct.com", "+61412000222",
     [OFFICE365_ROLE, PORTAL_ROLE, TAX_ROLE], {PROXY_COLUMN: "SMTP:tom.baker@northwindacct.com", "Cost_Centre": "TAX-200"}),
    ("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6f", "priya.patel@northwindacct.com", "Priya Patel", "priya.patel@northwindacct.com", "+61412000333",
     [PORTAL_ROLE, TAX_ROLE], {"Cost_Centre": "TAX-200"}),
    ("3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7a", "reception@northwindacct.com", "Front Desk", "reception@northwindacct.com", None,
     [PORTAL_ROLE], {}),
]

SEED_APPS = [
    # id, name, template, provisioning capable / configured / enabled, provisioning settings
    (OFFICE365_APP, "Office 365", "Office365", True, True, True,
     {"roles": [OFFICE365_ROLE], "sku": "O365_BUSINESS_PREMIUM", "usage_location": "AU", "service_account": "practiceprotect"}),
    (XERO_APP, "Xero", "GenericSAML", False, False, False, None),
    (DROPBOX_APP, "Dropbox Business", "DropboxBusiness", True, False, False, None),
]


class PPTenant:
    """The emulated Practice Protect tenant, holding a reference to the Graph ``Tenant``."""

    def __init__(self, graph_tenant, clock=None):
        from .pp_provisioning import Engine  # the engine imports this module

        self.graph = graph_tenant
        self.clock = clock or graph_tenant.clock
        self.clients = {}
        self.tokens = {}
        self.engine = Engine(self)
        self.service_secret = secrets.token_urlsafe(24)
        self.add_client(SERVICE_CLIENT_ID, self.service_secret, [SYSADMIN_ROLE], user_id=SERVICE_CLIENT_UUID,
                        display_name="Ansible automation (service user)", persistent=True)
        self.reset()

    # ------------------------------------------------------------------------------------------------------------
    # Seed and reset

    def reset(self):
        """Back to the seed. The env file's OAuth client (and its secret) is kept; clients added by the control API go."""
        self.clients = {key: client for key, client in self.clients.items() if client["persistent"]}
        self.tokens = {}
        self.users = {}
        self.attributes = {}
        self.columns = copy.deepcopy(SEED_COLUMNS)
        self.roles = {}
        self.apps = {}
        self.outbox = []
        self.generation = getattr(self, "generation", 0) + 1
        self.engine.reset()
        for role_id, name, description, read_only, rights in SEED_ROLES:
            self.roles[role_id] = {"ID": role_id, "Name": name, "Description": description, "RoleType": "PrincipalList",
                                   "ReadOnly": read_only, "DirectoryServiceUuid": CDS_UUID, "AdminRights": list(rights), "Members": []}
        for app_id, name, template, capable, configured, enabled, settings in SEED_APPS:
            self.apps[app_id] = {"ID": app_id, "Name": name, "DisplayName": name, "ServiceName": name, "TemplateName": template,
                                 "AppType": "Web", "State": "Active", "ProvCapable": capable, "ProvConfigured": configured,
                                 "ProvSettingEnabled": enabled, "_prov": copy.deepcopy(settings)}
        for client_id, client in self.clients.items():
            self._add_cloud_user(client["user_id"], client_id, client["display_name"], None, None, service_user=True)
            for role_id in client["roles"]:
                self._add_member(role_id, client["user_id"])
        for user_id, name, display, mail, mobile, roles, attributes in SEED_USERS:
            self._add_cloud_user(user_id, name, display, mail, mobile)
            self.users[user_id]["Status"] = "Active"
            for role_id in roles:
                self._add_member(role_id, user_id)
            if attributes:
                self.attributes[user_id] = dict(attributes)
        self._link_seed_graph_users()
        self.snapshot_directories = None
        if getattr(self.graph, "snapshot", None) is not None:  # a doctor snapshot to start from (snapshot.py)
            from .snapshot import apply_pp
            apply_pp(self, self.graph.snapshot)

    def _link_seed_graph_users(self):
        """The seed's Office 365 role members were provisioned before: their Graph users carry the engine's anchor."""
        for user_id in self.provisioning_scope(OFFICE365_APP):
            user = self.users[user_id]
            try:
                graph_user = self.graph.get_user(user["Name"])
            except GraphError:
                continue
            if not graph_user.get("onPremisesImmutableId"):
                self.graph.update_user(graph_user["id"], {"onPremisesImmutableId": anchor_of(user_id)})

    def env_values(self):
        """The connection of the seed's confidential client, for sandbox.env."""
        return {"PP_APP_ID": OAUTH_APP_ID, "PP_CLIENT_ID": SERVICE_CLIENT_ID, "PP_CLIENT_SECRET": self.service_secret}

    def add_client(self, client_id, secret, roles, user_id=None, display_name=None, persistent=False):
        """An OAuth2 confidential client: a service user (``OauthClient``) whose password is the client secret."""
        user_id = user_id or str(uuid.uuid4())
        secret_log.record("pp_client_secret", secret, "pp OAuth client %s" % client_id)
        self.clients[client_id] = {"client_id": client_id, "secret": hash_secret(secret), "user_id": user_id, "roles": list(roles),
                                   "display_name": display_name or client_id, "persistent": persistent}
        if hasattr(self, "users") and user_id not in self.users:
            self._add_cloud_user(user_id, client_id, display_name or client_id, None, None, service_user=True)
            for role_id in roles:
                self._add_member(role_id, user_id)
        return {"client_id": client_id, "client_secret": secret, "user_id": user_id}

    def add_role(self, name, description="", rights=None):
        if self.role_by_name(name) is not None:
            raise PPError("A role named %s already exists." % name, "DuplicateRoleName")
        role_id = str(uuid.uuid4()).replace("-", "_")
        self.roles[role_id] = {"ID": role_id, "Name": name, "Description": description, "RoleType": "PrincipalList", "ReadOnly": False,
                               "DirectoryServiceUuid": CDS_UUID, "AdminRights": list(rights or []), "Members": []}
        return role_id

    def _add_cloud_user(self, user_id, name, display, mail, mobile, service_user=False):
        self.users[user_id] = {
            "ID": user_id, "Name": name, "DisplayName": display, "Mail": mail, "MobileNumber": mobile, "OfficeNumber": None,
            "HomeNumber": None, "Description": None, "Source": "CDS", "State": "None", "Status": "Not Invited",
            "PasswordNeverExpire": service_user, "ForcePasswordChangeNext": False, "InEverybodyRole": True, "ServiceUser": service_user,
            "OauthClient": service_user, "_password": None, "Created": centrify_date(), "LastInvite": None, "LastLogin": None,
        }
        return self.users[user_id]

    def _add_member(self, role_id, user_id):
        members = self.roles[role_id]["Members"]
        if not any(m["Guid"] == user_id for m in members):
            members.append({"Guid": user_id, "Type": "User"})
            return True
        return False

    def seed(self, body):
        """Control API: add roles, users (with roles and attributes) and OAuth clients directly (no log)."""
        if not isinstance(body, dict):
            raise ValueError("the seed must be a JSON object")
        created = {"roles": [], "users": [], "clients": []}
        for role in body.get("roles") or []:
            created["roles"].append(self.add_role(role["Name"], role.get("Description", ""), role.get("AdminRights")))
        for spec in body.get("users") or []:
            name = spec.get("Name")
            if not name or self.user_by_name(name):
                raise ValueError("each seeded user needs a Name not yet in use: %r" % (name,))
            user = self._add_cloud_user(spec.get("ID") or str(uuid.uuid4()), name, spec.get("DisplayName") or name.split("@")[0],
                                        spec.get("Mail"), spec.get("MobileNumber"))
            user["Status"] = spec.get("Status", "Active")
            for role_name in spec.get("Roles") or []:
                role = self.role_by_name(role_name)
                if role is None:
                    raise ValueError("unknown role %r" % role_name)
                self._add_member(role["ID"], user["ID"])
            if spec.get("Attributes"):
                self.attributes[user["ID"]] = dict(spec["Attributes"])
            created["users"].append(user["ID"])
        for client in body.get("clients") or []:
            roles = []
            for role_name in client.get("Roles") or []:
                role = self.role_by_name(role_name)
                if role is None:
                    raise ValueError("unknown role %r" % role_name)
                roles.append(role["ID"])
            secret = secrets.token_urlsafe(24)
            created["clients"].append(self.add_client(client["client_id"], secret, roles))
        for app_key, settings in (body.get("apps") or {}).items():
            app = self.app_by_key(app_key)
            prov = app.get("_prov")
            if prov is None:
                raise ValueError("app %s has no provisioning settings" % app_key)
            prov.update(settings)
        return created

    # ------------------------------------------------------------------------------------------------------------
    # OAuth2 client credentials

    def issue_token(self, app_id, client_id, secret, scope):
        """(status, body) of POST /oauth2/token/{app_id}. Errors use the OAuth body {error, error_description}."""
        if app_id.lower() != OAUTH_APP_ID:
            # UNCONFIRMED: status and wording for an unknown application id.
            return 400, {"error": "invalid_request", "error_description": "Application %s does not exist or is not an OAuth2 client." % app_id}
        client = self.clients.get(client_id or "")
        if client is None or not check_secret(client["secret"], secret):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        scopes = (scope or "").split()
        unknown = [s for s in scopes if s not in OAUTH_SCOPES]
        if not scopes or unknown:
            return 400, {"error": "invalid_scope", "error_description": "Scope %s is not defined on application %s." % (
                " ".join(unknown or ["(none)"]), app_id)}
        token = secrets.token_urlsafe(32)
        lifetime = int(self.graph.config.get("token_lifetime_s") or TOKEN_LIFETIME_S)
        self.tokens[token] = {"client_id": client_id, "expires": self.clock() + lifetime}
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(scopes)}

    def caller(self, token):
        """The client id behind a bearer token, or None (unknown or expired)."""
        entry = self.tokens.get(token or "")
        if entry is None or self.clock() >= entry["expires"]:
            return None
        if entry["client_id"] not in self.clients:
            return None
        return entry["client_id"]

    def rights_of(self, client_id):
        user_id = self.clients[client_id]["user_id"]
        rights = set()
        for role in self.roles.values():
            if any(m["Guid"] == user_id for m in role["Members"]):
                rights.update(role["AdminRights"])
        return rights

    # ------------------------------------------------------------------------------------------------------------
    # Directories

    def variants(self):
        """True under the "real_tenant_variants" profile (realism knob pp_profile)."""
        return self.graph.config.get("pp_profile") == VARIANTS

    def job_api(self):
        """Whether this project's job API is served (not under the real-tenant variants, nor with the knob pp_job_api false)."""
        return not self.variants() and self.graph.config.get("pp_job_api", True) is not False

    def aad_service(self):
        """The Service code of the Entra ID source directory (UNCONFIRMED either way; see AAD_SERVICE)."""
        return AAD_SERVICE_VARIANT if self.variants() else AAD_SERVICE

    def directories(self):
        if self.snapshot_directories:
            return copy.deepcopy(self.snapshot_directories)
        if self.variants():
            return [_directory_row(*row) for row in (
                (CDS_UUID, "CDS", "Practice Protect Directory", "CDS", "Active", "Practice Protect Directory", "Practice Protect Directory"),
                (FDS_UUID, "FDS", "Federated Directory Service", "FDS", "Active", "Federated Directory Service", "Federated Directory"),
                (ADPROXY_UUID, "AdProxy", "Active Directory: northwind.local", "AdProxy_northwind.local", "Inactive", "northwind.local",
                 "Active Directory"),
                (GDS_UUID, "GDS", "Google Directory: northwindacct.com", "GDS_c0262k9n4", "Inactive", "northwindacct.com", "Google Directory"),
                # UNCONFIRMED as a whole: how an Entra ID source directory is listed.
                (AAD_UUID, AAD_SERVICE_VARIANT, "Azure Active Directory", AAD_SERVICE_VARIANT, "Active", "Azure Active Directory",
                 "Azure Active Directory"))]
        return [
            {"directoryServiceUuid": CDS_UUID, "Service": "CDS", "DisplayName": "Practice Protect Directory", "Name": "CDS",
             "Status": "Online", "Config": None},
            # UNCONFIRMED: the Service value of an Azure AD / Entra source directory (select it by DisplayName).
            {"directoryServiceUuid": AAD_UUID, "Service": AAD_SERVICE, "DisplayName": "Azure Active Directory", "Name": "AzureAD",
             "Status": "Online", "Config": None},
        ]

    def _graph_users(self):
        return {u["id"]: u for u in self.graph.list_users()}

    def directory_rows(self, directory_uuids=None):
        """DirectoryServiceQuery user rows of the cloud directory and the Azure AD mirror."""
        rows = []
        wanted = set(str(d).lower() for d in directory_uuids) if directory_uuids else {CDS_UUID, AAD_UUID}
        if CDS_UUID in wanted:
            for user in self.users.values():
                if user["Source"] == "CDS":
                    rows.append({"InternalName": user["ID"], "SystemName": user["Name"], "DisplayName": user["DisplayName"],
                                 "EMail": user["Mail"], "ServiceType": "CDS", "ServiceInstance": CDS_UUID,
                                 "ServiceInstanceLocalized": "Practice Protect Directory", "DistinguishedName": None, "ObjectType": "user"})
        if AAD_UUID in wanted:
            for graph_user in self.graph.list_users():
                rows.append({"InternalName": graph_user["id"], "SystemName": graph_user["userPrincipalName"],
                             "DisplayName": graph_user.get("displayName"), "EMail": graph_user.get("mail"), "ServiceType": self.aad_service(),
                             "ServiceInstance": AAD_UUID, "ServiceInstanceLocalized": "Azure Active Directory", "DistinguishedName": None,
                             "ObjectType": "user"})
        return rows

    def directory_query(self, body):
        directories = body.get("directoryServices") or []
        if not isinstance(directories, list):
            raise PPError("directoryServices must be a list of directory service UUIDs.", "InvalidArgument")
        known = {d["directoryServiceUuid"].lower() for d in self.directories()}
        for uuid_value in directories:
            if str(uuid_value).lower() not in known:
                raise PPError("Directory service %s does not exist." % uuid_value, "DirectoryServiceNotFound")
        result = {}
        if body.get("user") is not None:
            flt = _parse_filter(body["user"], "user")
            rows = [row for row in self.directory_rows(directories) if _matches(flt, row)]
            result["User"] = {"Results": [{"Entities": [{"Type": "User", "Key": r["InternalName"], "IsForeignKey": False}], "Row": r}
                                          for r in rows], "Count": len(rows)}
        if body.get("group") is not None:
            result["Group"] = {"Results": [], "Count": 0}
        if body.get("roles") is not None:
            flt = _parse_filter(body["roles"], "roles")
            rows = []
            for role in self.roles.values():
                row = {"_ID": role["ID"], "Name": role["Name"], "Description": role["Description"], "ObjectType": "role"}
                if _matches(flt, row):
                    rows.append(row)
            result["roles"] = {"Results": [{"Row": r} for r in rows], "Count": len(rows)}
        return result

    # ------------------------------------------------------------------------------------------------------------
    # Users

    def user(self, user_id):
        user = self.users.get((user_id or "").lower()) if isinstance(user_id, str) else None
        if user is None:
            raise PPError("User %s does not exist." % (user_id,), "UserNotFound")
        return user

    def user_by_name(self, name):
        lowered = (name or "").lower()
        for user in self.users.values():
            if self.view(user)["Name"].lower() == lowered:
                return user
        return None

    def resolve_user(self, key):
        """A user by UUID or login name (the role APIs take either)."""
        if isinstance(key, str) and key.lower() in self.users:
            return self.users[key.lower()]
        user = self.user_by_name(key)
        if user is None:
            raise PPError("User %s does not exist." % (key,), "UserNotFound")
        return user

    def view(self, user):
        """A user's current fields; Azure AD users are read live from the Graph tenant."""
        out = {k: v for k, v in user.items() if not k.startswith("_")}
        if user["Source"] == "AzureAD":
            out["Source"] = self.aad_service()
            graph_user = self._graph_users().get(user["ID"])
            if graph_user is not None:
                out.update({"Name": graph_user["userPrincipalName"], "DisplayName": graph_user.get("displayName"),
                            "Mail": graph_user.get("mail"), "MobileNumber": graph_user.get("mobilePhone")})
        return out

    def active_user_ids(self):
        """Users that exist now (an invited Azure AD user whose Graph user is gone drops out)."""
        graph_ids = None
        out = []
        for user_id, user in self.users.items():
            if user["Source"] == "AzureAD":
                if graph_ids is None:
                    graph_ids = set(self._graph_users())
                if user_id not in graph_ids:
                    continue
            out.append(user_id)
        return out

    def _check_login_name(self, name):
        if not isinstance(name, str) or name.count("@") != 1:
            raise PPError("The user name %s must have the form login@suffix." % (name,), "InvalidUserName")
        local, suffix = name.split("@")
        if not local or not LOGIN_LOCAL_RE.match(local):
            raise PPError("The user name %s contains characters that are not allowed." % name, "InvalidUserName")
        if suffix.lower() not in LOGIN_SUFFIXES:
            raise PPError("The login suffix %s is not an alias of this tenant." % suffix, "InvalidLoginSuffix")

    def create_user(self, body):
        name = body.get("Name")
        self._check_login_name(name)
        if self.user_by_name(name) is not None:
            # Wording from /CDirectoryService/Signup (reference section 1); for CreateUser UNCONFIRMED. The ErrorID is this
            # sandbox's own: the real-tenant variants answer without it (no public ErrorID catalogue, reference section 12).
            raise PPError("User name %s is already in use." % name, self._duplicate_error_id())
        mail = body.get("Mail")
        if mail is not None and (not isinstance(mail, str) or not MAIL_RE.match(mail)):
            raise PPError("Invalid e-mail address %s." % (mail,), "InvalidEmail")
        password = body.get("Password")
        if password is not None:
            if body.get("confirmPassword") is not None and body["confirmPassword"] != password:
                raise PPError("The passwords do not match.", "PasswordMismatch")
            if not password_meets_policy(password):
                raise PPError("Password does not meet the password policy requirements.", "PasswordPolicy")
        flags = {key: as_bool(body.get(key), default) for key, default in (
            ("PasswordNeverExpire", False), ("ForcePasswordChangeNext", True), ("InEverybodyRole", True), ("InSysAdminRole", False),
            ("SendEmailInvite", True), ("SendSmsInvite", False), ("ServiceUser", False), ("OauthClient", False))}
        user = self._add_cloud_user(str(uuid.uuid4()), name, body.get("DisplayName") or name.split("@")[0], mail, body.get("MobileNumber"),
                                    service_user=flags["ServiceUser"])
        for key in ("OfficeNumber", "HomeNumber", "Description"):
            user[key] = body.get(key)
        for key in ("PasswordNeverExpire", "ForcePasswordChangeNext", "InEverybodyRole", "OauthClient"):
            user[key] = flags[key]
        user["_password"] = hash_secret(password or random_password())
        if flags["InSysAdminRole"]:
            self._add_member(SYSADMIN_ROLE, user["ID"])
        if flags["SendEmailInvite"] or flags["SendSmsInvite"]:
            self._invite(user, email=flags["SendEmailInvite"], sms=flags["SendSmsInvite"])
        return user["ID"]

    def _duplicate_error_id(self):
        """The ErrorID of a name already in use: the sandbox's invented one, or none (real-tenant variants, UNCONFIRMED)."""
        return None if self.variants() else "DuplicateUserName"

    def _invite(self, user, email=True, sms=False):
        user["Status"] = "Invited" if user["Status"] != "Active" else "Active"
        user["LastInvite"] = centrify_date()
        view = self.view(user)
        if email:
            self.outbox.append({"to": view.get("Mail") or view["Name"], "kind": "email", "user": view["Name"], "time": now_iso()})
        if sms:
            self.outbox.append({"to": view.get("MobileNumber"), "kind": "sms", "user": view["Name"], "time": now_iso()})

    def change_user(self, body):
        user = self.user(body.get("ID"))
        if user["Source"] != "CDS":
            raise PPError("User %s comes from a read-only directory; change it in its source directory." % self.view(user)["Name"],
                          "ReadOnlyDirectory")
        changes = {}
        if "Name" in body and body["Name"] != user["Name"]:
            self._check_login_name(body["Name"])
            other = self.user_by_name(body["Name"])
            if other is not None and other is not user:
                raise PPError("User name %s is already in use." % body["Name"], self._duplicate_error_id())
            changes["Name"] = body["Name"]
        if "Mail" in body and body["Mail"] is not None and not MAIL_RE.match(str(body["Mail"])):
            raise PPError("Invalid e-mail address %s." % (body["Mail"],), "InvalidEmail")
        for key in ("DisplayName", "Mail", "MobileNumber", "OfficeNumber", "HomeNumber", "Description"):
            if key in body:
                changes[key] = body[key]
        for key in ("PasswordNeverExpire", "ForcePasswordChangeNext", "InEverybodyRole"):
            if key in body:
                changes[key] = as_bool(body[key])
        if "Password" in body:
            if not password_meets_policy(body["Password"]):
                raise PPError("Password does not meet the password policy requirements.", "PasswordPolicy")
            user["_password"] = hash_secret(body["Password"])
        user.update(changes)
        return None

    def reset_password(self, body):
        user = self.user(body.get("ID"))
        if user["Source"] != "CDS":
            raise PPError("The password of a user from a read-only directory is managed there.", "ReadOnlyDirectory")
        password = body.get("newPassword")
        if not password_meets_policy(password):
            raise PPError("Password does not meet the password policy requirements.", "PasswordPolicy")
        user["_password"] = hash_secret(password)
        return None

    def set_user_state(self, body):
        user = self.user(body.get("ID"))
        state = body.get("State")
        if state not in USER_STATES:
            raise PPError("State must be one of %s." % ", ".join(USER_STATES), "InvalidArgument")
        user["State"] = state
        return None

    def user_attributes(self, body):
        user = self.user(body.get("ID"))
        view = self.view(user)
        return {"Uuid": view["ID"], "Name": view["Name"], "DisplayName": view["DisplayName"], "Mail": view["Mail"],
                "MobileNumber": view["MobileNumber"], "OfficeNumber": view["OfficeNumber"], "HomeNumber": view["HomeNumber"],
                "Description": view["Description"], "State": view["State"], "PasswordNeverExpire": view["PasswordNeverExpire"],
                "ForcePasswordChangeNext": view["ForcePasswordChangeNext"], "InEverybodyRole": view["InEverybodyRole"],
                "ServiceUser": view["ServiceUser"], "OauthClient": view["OauthClient"],
                "SourceDsType": view["Source"], "DirectoryServiceUuid": CDS_UUID if view["Source"] == "CDS" else AAD_UUID}

    def remove_users(self, body):
        ids = body.get("Users")
        if not isinstance(ids, list) or not ids:
            raise PPError("Users must be a list of user UUIDs.", "InvalidArgument")
        users = [self.user(user_id) for user_id in ids]
        for user in users:
            if user["ServiceUser"] and user["Name"] in self.clients:
                raise PPError("User %s is an OAuth client in use and cannot be removed." % user["Name"], "UserInUse")
        changed_roles = {}
        for user in users:
            for role in self.roles.values():
                before = len(role["Members"])
                role["Members"] = [m for m in role["Members"] if m["Guid"] != user["ID"]]
                if len(role["Members"]) != before:
                    changed_roles.setdefault(role["ID"], []).append(user["ID"])
            self.attributes.pop(user["ID"], None)
            del self.users[user["ID"]]
        for role_id, user_ids in changed_roles.items():
            self.engine.membership_changed(role_id, user_ids)
        return None

    def invite_users(self, body):
        entities = body.get("Entities")
        if not isinstance(entities, list) or not entities:
            raise PPError("Entities is required.", "InvalidArgument")
        email = as_bool(body.get("EmailInvite"), True)
        sms = as_bool(body.get("SmsInvite"), False)
        role = None
        if body.get("Role"):
            role = self.role_by_name(body["Role"])
            if role is None:
                raise PPError("Role %s does not exist." % body["Role"], "RoleNotFound")
        graph_users = self._graph_users()
        targets = []
        for entity in entities:
            if not isinstance(entity, dict) or str(entity.get("Type", "")).lower() != "user":
                raise PPError("Only entities of Type User can be invited here.", "InvalidArgument")
            guid = str(entity.get("Guid") or "").lower()
            if guid in self.users:
                targets.append(self.users[guid])
                continue
            graph_user = graph_users.get(guid)
            if graph_user is None:
                raise PPError("User %s was not found in any directory." % (entity.get("Name") or guid), "UserNotFound")
            targets.append(graph_user)
        invited = []
        for target in targets:
            if "userPrincipalName" in target:
                user = {"ID": target["id"], "Name": target["userPrincipalName"], "DisplayName": target.get("displayName"),
                        "Mail": target.get("mail"), "MobileNumber": target.get("mobilePhone"), "OfficeNumber": None, "HomeNumber": None,
                        "Description": None, "Source": "AzureAD", "State": "None", "Status": "Invited", "PasswordNeverExpire": False,
                        "ForcePasswordChangeNext": False, "InEverybodyRole": True, "ServiceUser": False, "OauthClient": False,
                        "_password": None, "Created": centrify_date(), "LastInvite": None, "LastLogin": None}
                self.users[user["ID"]] = user
            else:
                user = target
            self._invite(user, email=email, sms=sms)
            invited.append(user["ID"])
            if role is not None and self._add_member(role["ID"], user["ID"]):
                self.engine.membership_changed(role["ID"], [user["ID"]])
        # UNCONFIRMED: the Result of InviteUsers (callers only check success).
        return None

    def cds_aliases(self):
        return {"Results": [{"Row": {"ID": suffix, "Default": index == 0}} for index, suffix in enumerate(LOGIN_SUFFIXES)],
                "Count": len(LOGIN_SUFFIXES)}

    # ------------------------------------------------------------------------------------------------------------
    # Additional attributes

    def schema(self, body):
        self._check_table(body)
        return {"ColumnLimit": COLUMN_LIMIT, "Columns": copy.deepcopy(self.columns)}

    def update_schema(self, body):
        self._check_table(body)
        columns = body.get("Columns")
        if not isinstance(columns, dict):
            raise PPError("Columns must be an object of column definitions.", "InvalidArgument")
        missing = [c["Name"] for c in self.columns if c["Name"] not in columns]
        if missing:
            # The schema update replaces the schema, so it must include every existing column (reference 5.1).
            raise PPError("The schema update must include every existing column; missing: %s." % ", ".join(missing), "InvalidSchema")
        if len(columns) > COLUMN_LIMIT:
            raise PPError("At most %d additional attributes are allowed." % COLUMN_LIMIT, "InvalidSchema")
        new = []
        for name, spec in columns.items():
            if "_" not in name:
                raise PPError("Attribute name %s must contain an underscore." % name, "InvalidSchema")
            kind = (spec or {}).get("Type", "Text")
            if kind not in COLUMN_TYPES:
                raise PPError("Attribute type %s is not one of %s." % (kind, ", ".join(COLUMN_TYPES)), "InvalidSchema")
            new.append({"Name": name, "Title": spec.get("Title") or name, "Type": kind, "Description": spec.get("Description") or "",
                        "UserEditable": bool(spec.get("UserEditable"))})
        self.columns = new
        return None

    def _check_table(self, body):
        if str(body.get("Table", "")).lower() != "users":
            raise PPError("Table %s is not supported; use users." % (body.get("Table"),), "InvalidArgument")

    def get_columns(self, body):
        self._check_table(body)
        user = self.user(body.get("ID"))
        values = self.attributes.get(user["ID"], {})
        if self.variants():
            # Every value as a string, the way CyberArk's Go SDK reads them back (reference section 12). UNCONFIRMED whether a
            # real tenant answers typed values (the default profile) or strings.
            return {c["Name"]: _as_string(values.get(c["Name"])) for c in self.columns}
        return {c["Name"]: values.get(c["Name"]) for c in self.columns}

    def set_columns(self, body):
        self._check_table(body)
        user = self.user(body.get("ID"))
        columns = body.get("Columns")
        if not isinstance(columns, dict):
            raise PPError("Columns must be an object of column values.", "InvalidArgument")
        by_name = {c["Name"]: c for c in self.columns}
        typed = {}
        for name, value in columns.items():
            column = by_name.get(name)
            if column is None:
                raise PPError("Column %s does not exist in table users." % name, "ColumnNotFound")
            typed[name] = _column_value(name, column["Type"], value)
        values = self.attributes.setdefault(user["ID"], {})
        for name, value in typed.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        return None

    def proxy_column(self):
        for column in self.columns:
            if column["Name"].lower() == "proxyaddresses" or (column.get("Title") or "").lower() == "proxyaddresses":
                return column["Name"]
        return None

    # ------------------------------------------------------------------------------------------------------------
    # Roles

    def role(self, role_id):
        role = None
        if isinstance(role_id, str):
            role = self.roles.get(role_id) or next((r for r in self.roles.values() if r["ID"].lower() == role_id.lower()), None)
        if role is None:
            raise PPError("Role %s does not exist." % (role_id,), "RoleNotFound")
        return role

    def role_by_name(self, name):
        for role in self.roles.values():
            if role["Name"] == name:
                return role
        lowered = [r for r in self.roles.values() if r["Name"].lower() == (name or "").lower()]
        return lowered[0] if len(lowered) == 1 else None

    def members_of(self, role):
        if role["ID"] == EVERYBODY_ROLE:
            return [{"Guid": uid, "Type": "User"} for uid in self.active_user_ids() if self.users[uid]["InEverybodyRole"]]
        active = set(self.active_user_ids())
        return [m for m in role["Members"] if m["Type"] != "User" or m["Guid"] in active]

    def role_members(self, role_id):
        role = self.role(role_id)
        rows = []
        for member in self.members_of(role):
            name = self.view(self.users[member["Guid"]])["Name"] if member["Type"] == "User" else member["Guid"]
            rows.append({"Row": {"Guid": member["Guid"], "Name": name, "Type": member["Type"]}})
        return {"Results": rows, "Count": len(rows)}

    def _role_for_change(self, role_id):
        role = self.role(role_id)
        if role["ID"] == EVERYBODY_ROLE:
            # The Everybody role cannot be modified via the Role API (reference 7.6).
            raise PPError("The Everybody role cannot be modified.", "RoleNotModifiable")
        return role

    def _users_for(self, keys, field):
        if keys is None:
            return []
        if not isinstance(keys, list):
            raise PPError("%s must be a list." % field, "InvalidArgument")
        return [self.resolve_user(key) for key in keys]

    def update_role(self, body):
        role = self._role_for_change(body.get("Name"))
        users = body.get("Users") or {}
        if not isinstance(users, dict):
            raise PPError("Users must be an object with Add and Delete lists.", "InvalidArgument")
        for kind in ("Groups", "Roles"):
            if (body.get(kind) or {}).get("Add"):
                # The sandbox models user members only.
                raise PPError("The sandbox does not model %s as role members." % kind.lower(), "NotSupported")
        add = self._users_for(users.get("Add"), "Users.Add")
        delete = self._users_for(users.get("Delete"), "Users.Delete")
        if "NewName" in body and body["NewName"]:
            other = self.role_by_name(body["NewName"])
            if other is not None and other is not role:
                raise PPError("A role named %s already exists." % body["NewName"], "DuplicateRoleName")
            role["Name"] = body["NewName"]
        if "Description" in body and body["Description"] is not None:
            role["Description"] = body["Description"]
        self._apply_membership(role, add, delete)
        return None

    def add_to_role(self, body):
        role = self._role_for_change(body.get("Name"))
        self._apply_membership(role, self._users_for(body.get("Users"), "Users"), [])
        return None

    def remove_from_role(self, body):
        role = self._role_for_change(body.get("Name"))
        self._apply_membership(role, [], self._users_for(body.get("Users"), "Users"))
        return None

    def _apply_membership(self, role, add, delete):
        changed = []
        for user in add:
            if self._add_member(role["ID"], user["ID"]):
                changed.append(user["ID"])
        for user in delete:
            before = len(role["Members"])
            role["Members"] = [m for m in role["Members"] if m["Guid"] != user["ID"]]
            if len(role["Members"]) != before:
                changed.append(user["ID"])
        if changed:
            self.engine.membership_changed(role["ID"], changed)

    def user_roles(self, user_id):
        user = self.user(user_id)
        rows = []
        for role in self.roles.values():
            if any(m["Guid"] == user["ID"] for m in self.members_of(role)):
                # Rows are read as Row.RoleName (idaptive-api-demo) and as Row.Name (hashicorp/vault-plugin-auth-centrify,
                # reference section 12): the real-tenant variants carry Name.
                name_key = "Name" if self.variants() else "RoleName"
                rows.append({"Row": {name_key: role["Name"], "Description": role["Description"],
                                     "AdministrativeRights": [{"Description": right} for right in role["AdminRights"]]}})
        return {"Results": rows, "Count": len(rows)}

    def get_role(self, role_id):
        role = self.role(role_id)
        return {"ID": role["ID"], "Name": role["Name"], "Description": role["Description"], "RoleType": role["RoleType"],
                "ReadOnly": role["ReadOnly"], "AdminRights": [{"Description": r} for r in role["AdminRights"]]}

    # ------------------------------------------------------------------------------------------------------------
    # Applications

    def app_by_key(self, key):
        app = self.apps.get((key or "").lower()) if isinstance(key, str) else None
        if app is None:
            raise PPError("Application %s does not exist." % (key,), "ApplicationNotFound")
        return app

    def provisioning_scope(self, app_key):
        """User ids in the app's provisioning scope: user members of the roles its provisioning is mapped to."""
        app = self.app_by_key(app_key)
        prov = app.get("_prov") or {}
        out = []
        for role_id in prov.get("roles") or []:
            role = self.roles.get(role_id)
            if role is None:
                continue
            for member in self.members_of(role):
                if member["Type"] == "User" and member["Guid"] not in out:
                    out.append(member["Guid"])
        return out

    def apps_fed_by(self, role_id):
        return [app for app in self.apps.values()
                if app["ProvSettingEnabled"] and role_id in ((app.get("_prov") or {}).get("roles") or [])]

    # ------------------------------------------------------------------------------------------------------------
    # Redrock

    def redrock(self, body):
        script = body.get("Script")
        if not isinstance(script, str) or not script.strip():
            raise PPError("Script is required.", "InvalidArgument")
        args = body.get("Args")
        if args is None:
            args = body.get("args")  # idsec sends lower-case args
        args = args or {}
        if not isinstance(args, dict):
            raise PPError("Args must be an object.", "InvalidArgument")
        connection = self._redrock_db()
        try:
            cursor = connection.execute(script)
            columns = [d[0] for d in cursor.description or []]
            rows = [dict(zip(columns, values)) for values in cursor.fetchall()]
        except sqlite3.Error as exc:
            # UNCONFIRMED: wording and ErrorID of a failed query.
            raise PPError("Query failed: %s" % exc, "QueryFailed")
        finally:
            connection.close()
        for row in rows:
            for key in list(row):
                if key in BOOLEAN_COLUMNS and row[key] in (0, 1):
                    row[key] = bool(row[key])
        sort_by = args.get("SortBy")
        if sort_by:
            ascending = str(args.get("Direction", "True")).lower() != "false"
            for key in reversed([k.strip() for k in str(sort_by).split(",") if k.strip()]):
                rows.sort(key=lambda r, k=key: (r.get(k) is None, str(r.get(k)).lower() if r.get(k) is not None else ""),
                          reverse=not ascending)
        full = len(rows)
        limit = _int_arg(args, "Limit")
        if limit and limit > 0:
            rows = rows[:limit]
        count = len(rows)
        page_size = _int_arg(args, "PageSize")
        page = _int_arg(args, "PageNumber") or 1
        if page_size and page_size > 0:
            rows = rows[(page - 1) * page_size:page * page_size]
        if self.variants():
            # Count is this page's rows and FullCount the total: the other reading of the two fields (reference section 12;
            # the default profile's Count is the total after Limit). UNCONFIRMED which one real tenants use.
            count = len(rows)
        return {"Count": count, "FullCount": full, "IsAggregate": False,
                "Columns": [{"Name": c, "Title": c, "Type": "Text" if c not in BOOLEAN_COLUMNS else "Boolean"} for c in columns],
                "Results": [{"Entities": [], "Row": row} for row in rows]}

    def _redrock_db(self):
        """An SQLite copy of the directory with the tables of reference section 3.1."""
        connection = sqlite3.connect(":memory:")
        connection.create_function("lower", 1, lambda v: v.lower() if isinstance(v, str) else v)
        for table, columns in REDROCK_TABLES.items():
            connection.execute('CREATE TABLE "%s" (%s)' % (table, ", ".join('"%s"' % c for c in columns)))
        for table, rows in self._redrock_rows().items():
            columns = REDROCK_TABLES[table]
            connection.executemany('INSERT INTO "%s" VALUES (%s)' % (table, ", ".join("?" * len(columns))),
                                   [tuple(row.get(c) for c in columns) for row in rows])
        connection.commit()
        connection.execute("PRAGMA query_only = ON")
        return connection

    def _redrock_rows(self):
        users = []
        for user_id in self.active_user_ids():
            view = self.view(self.users[user_id])
            directory = CDS_UUID if view["Source"] == "CDS" else AAD_UUID
            users.append({"ID": view["ID"], "Username": view["Name"], "DisplayName": view["DisplayName"], "Email": view["Mail"],
                          "MobileNumber": view["MobileNumber"], "SourceDs": "Practice Protect Directory" if view["Source"] == "CDS"
                          else "Azure Active Directory", "SourceDsType": view["Source"], "DirectoryServiceUuid": directory,
                          "Status": view["Status"], "LastInvite": view["LastInvite"], "LastLogin": view["LastLogin"],
                          "ServiceUser": view["ServiceUser"]})
        roles = [{k: role[k] for k in REDROCK_TABLES["Role"]} for role in self.roles.values()]
        apps = [{k: app[k] for k in REDROCK_TABLES["Application"]} for app in self.apps.values()]
        ds_users = [{"InternalName": r["InternalName"], "SystemName": r["SystemName"], "DisplayName": r["DisplayName"],
                     "EMail": r["EMail"], "ServiceType": r["ServiceType"], "DirectoryServiceUuid": r["ServiceInstance"]}
                    for r in self.directory_rows()]
        return {"User": users, "Role": roles, "Application": apps, "DsUsers": ds_users, "DsGroups": []}

    # ------------------------------------------------------------------------------------------------------------
    # Dump (control API)

    def dump(self):
        users = []
        for user_id in self.active_user_ids():
            view = self.view(self.users[user_id])
            view["Attributes"] = dict(self.attributes.get(user_id, {}))
            view["Roles"] = [r["Name"] for r in self.roles.values() if any(m["Guid"] == user_id for m in self.members_of(r))]
            users.append(view)
        roles = [{"ID": r["ID"], "Name": r["Name"], "Description": r["Description"], "ReadOnly": r["ReadOnly"],
                  "AdminRights": list(r["AdminRights"]),
                  "Members": [self.view(self.users[m["Guid"]])["Name"] for m in self.members_of(r) if m["Type"] == "User"]}
                 for r in self.roles.values()]
        apps = [{k: v for k, v in a.items() if not k.startswith("_")} for a in self.apps.values()]
        for app, source in zip(apps, self.apps.values()):
            app["Provisioning"] = copy.deepcopy(source.get("_prov"))
        return {"users": users, "roles": roles, "apps": apps, "columns": copy.deepcopy(self.columns), "outbox": list(self.outbox),
                "jobs": self.engine.dump(), "clients": [{"client_id": c["client_id"], "roles": list(c["roles"])} for c in self.clients.values()],
                "login_suffixes": list(LOGIN_SUFFIXES), "oauth_app_id": OAUTH_APP_ID}


# Tables and columns of reference section 3.1. User also has MobileNumber (cyberark/ark-sdk-python's users service selects
# it) and ServiceUser (UNCONFIRMED, used to tell the OAuth client apart).
REDROCK_TABLES = {
    "User": ("ID", "Username", "DisplayName", "Email", "MobileNumber", "SourceDs", "SourceDsType", "DirectoryServiceUuid", "Status",
             "LastInvite", "LastLogin", "ServiceUser"),
    "Role": ("ID", "Name", "Description", "RoleType", "ReadOnly", "DirectoryServiceUuid"),
    "Application": ("ID", "Name", "DisplayName", "ServiceName", "TemplateName", "AppType", "State", "ProvCapable", "ProvConfigured",
                    "ProvSettingEnabled"),
    "DsUsers": ("InternalName", "SystemName", "DisplayName", "EMail", "ServiceType", "DirectoryServiceUuid"),
    "DsGroups": ("InternalName", "SystemName"),
}
BOOLEAN_COLUMNS = frozenset(("ReadOnly", "ProvCapable", "ProvConfigured", "ProvSettingEnabled", "ServiceUser"))


def _directory_row(uuid_value, service, display, name, status, config, description):
    """A GetDirectoryServices row in the shape of the public sample (real-tenant variants)."""
    row = {"Service": service, "DisplayName": display, "Tenant": PP_TENANT_ID, "Name": name, "Status": status, "Config": config,
           "StatusDisplay": "Online" if status == "Active" else "Offline", "Everybody": True, "Description": description,
           "DisplayNameShort": display.replace("Active Directory", "AD").replace("Google Directory", "GDS"), "directoryServiceUuid": uuid_value}
    if service == "AdProxy":
        row["Forest"] = config
    return row


def _column_value(name, kind, value):
    """An ExtData value as stored, or None to clear. Typed values, and the same as strings: the CyberArk Go SDK sends every
    value as a string and clears with "" (cyberark/idsec-sdk-golang users service; reference section 12). UNCONFIRMED: the
    platform's answer to an ill-typed value, that a string for a typed column is stored as the typed value, and that "" clears
    an Integer or Boolean column (a Text or Date column keeps "" as it is sent)."""
    if value is None or (value == "" and kind in ("Integer", "Boolean")):
        return None
    invalid = PPError("Invalid value for column %s: the column type is %s." % (name, kind), "InvalidColumnValue")
    if kind in ("Text", "Date"):
        if not isinstance(value, str):
            raise invalid
        return value
    if kind == "Integer":
        if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise invalid
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise invalid
    raise invalid


def _as_string(value):
    """A stored ExtData value as a string ("true"/"false" for a Boolean), None kept."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _int_arg(args, name):
    value = args.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PPError("Args.%s must be a number." % name, "InvalidArgument")


# ----------------------------------------------------------------------------------------------------------------
# DirectoryServiceQuery filters: {"_and": [...]}, {"_or": [...]}, {"_not": {...}}, {"Field": value} (case-insensitive
# equality) and {"Field": {"_eq"|"_ne"|"_like"|"_in"|"_startswith": value}}. The operator set beyond _and/_or and plain
# values is UNCONFIRMED.

def _parse_filter(value, name):
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except ValueError:
            raise PPError("The %s filter is not valid JSON." % name, "InvalidArgument")
        if isinstance(parsed, dict):
            return parsed
    raise PPError("The %s filter must be a JSON object." % name, "InvalidArgument")


def _fold(value):
    return value.lower() if isinstance(value, str) else value


def _matches(flt, row):
    for key, cond in flt.items():
        if key == "_and":
            if not all(_matches(item, row) for item in cond):
                return False
        elif key == "_or":
            if not any(_matches(item, row) for item in cond):
                return False
        elif key == "_not":
            if _matches(cond, row):
                return False
        else:
            actual = _fold(row.get(key))
            if isinstance(cond, dict):
                for op, expected in cond.items():
                    if op == "_eq" and actual != _fold(expected):
                        return False
                    if op == "_ne" and actual == _fold(expected):
                        return False
                    if op == "_in" and actual not in [_fold(v) for v in expected]:
                        return False
                    if op == "_startswith" and not (isinstance(actual, str) and actual.startswith(_fold(expected))):
                        return False
                    if op == "_like":
                        pattern = "^" + ".*".join(re.escape(part) for part in str(_fold(expected)).split("%")) + "$"
                        if "%" not in str(expected):
                            pattern = ".*" + re.escape(str(_fold(expected))) + ".*"
                        if not (isinstance(actual, str) and re.match(pattern, actual)):
                            return False
            elif actual != _fold(cond):
                return False
    return True
