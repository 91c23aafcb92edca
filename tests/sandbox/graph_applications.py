"""Microsoft Graph: application registrations, service principals and application permissions (app role assignments).

The model (``Registrations``, held by the tenant as ``tenant.registrations``) and the handlers of the routes
(``ApplicationResponses``, mixed into graph_responses.GraphResponses):

- ``/applications`` (application-list, -post-applications, -get, -update, -delete, -addpassword, -removepassword);
- ``/servicePrincipals`` (serviceprincipal-list, -post-serviceprincipals, -get);
- ``/servicePrincipals/{id}/appRoleAssignments`` (serviceprincipal-list-/post-/delete-approleassignments): an application
  permission granted with admin consent is an app role assignment from the client's service principal to the resource's
  (Microsoft Graph's, appId ``00000003-0000-0000-c000-000000000000``), naming one of the resource's ``appRoles`` by id.

Deleting an application deletes its service principal and the service principal's assignments. A client secret's value
(``secretText``) is in the answer of ``addPassword`` only; reads show its ``hint`` (first three characters) only; a
certificate's ``key`` is never read back. These registrations are what Practice Protect's token-based provisioning signs
in with (pp_provisioning.py); the sandbox's own client-credentials apps (``state.App``) are separate.

UNCONFIRMED: the status and wording of the refusals marked so below; ``$filter`` supports only ``appId eq`` and
``displayName eq`` (all the collection uses); ownership (``Application.ReadWrite.OwnedBy``) is not modelled.
"""

import base64
import copy
import datetime
import hashlib
import re
import secrets
import uuid

from . import graph_query as query
from . import secret_log
from .errors import GraphError, bad_request, not_found

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SP_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-sp:" + GRAPH_APP_ID))
# Microsoft Graph's application permissions (appRoles of its service principal), by value, with their published ids
# (Microsoft Graph permissions reference). The collection never hard-codes these ids: it reads them from the service principal.
GRAPH_APP_ROLES = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Domain.Read.All": "dbb9058a-0e50-45d7-ae91-66909b5d4664",
    "Domain.ReadWrite.All": "7e05723c-0bb0-42da-be95-ae9f08a6e53c",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Group.ReadWrite.All": "62a82d76-70ea-41e2-9197-370581804d09",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "GroupMember.ReadWrite.All": "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
    "LicenseAssignment.ReadWrite.All": "5facf0c1-8979-4e95-abcf-ff3d079771c0",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    "Organization.ReadWrite.All": "292d869f-3427-49a8-9dab-8c70152b74e9",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
}
APPLICATION_PROPERTIES = ("id", "appId", "displayName", "signInAudience", "createdDateTime", "deletedDateTime", "description", "notes",
                          "requiredResourceAccess", "passwordCredentials", "keyCredentials", "tags")
APPLICATION_WRITABLE = ("displayName", "signInAudience", "description", "notes", "requiredResourceAccess", "keyCredentials", "tags")
SERVICE_PRINCIPAL_PROPERTIES = ("id", "appId", "displayName", "servicePrincipalType", "accountEnabled", "appOwnerOrganizationId",
                                "appRoles", "tags")
ASSIGNMENT_PROPERTIES = ("id", "appRoleId", "createdDateTime", "deletedDateTime", "principalDisplayName", "principalId", "principalType",
                         "resourceDisplayName", "resourceId")
FILTER_RE = re.compile(r"^\s*(appId|displayName)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
# Real wording (Graph's answer to a duplicate grant).
ASSIGNMENT_EXISTS = "Permission being assigned already exists on the object"
# UNCONFIRMED wording.
ROLE_NOT_FOUND = "Permission being assigned was not found on application '%s'."
SP_EXISTS = "The service principal cannot be created, updated, or restored because the service principal name %s is already in use."


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _type_error(name, type_name):
    return bad_request("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type "
                       "or mark the type as open type." % (name, type_name), code="BadRequest")


class Registrations:
    """The tenant's application objects, service principals and app role assignments (to Microsoft Graph)."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.reset()

    def reset(self):
        self.applications = {}
        self.principals = {}
        self.assignments = {}
        self.principals[GRAPH_SP_ID] = {
            "id": GRAPH_SP_ID, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph", "servicePrincipalType": "Application",
            "accountEnabled": True, "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a", "tags": [],
            "appRoles": [{"allowedMemberTypes": ["Application"], "id": role_id, "value": value, "isEnabled": True, "origin": "Application",
                          "displayName": value, "description": "Application permission %s." % value}
                         for value, role_id in sorted(GRAPH_APP_ROLES.items())],
        }

    # -- lookups ---------------------------------------------------------------------------------------------------

    def application(self, key):
        found = self.applications.get((key or "").lower())
        if found is None:
            raise not_found(key)
        return found

    def application_by_app_id(self, app_id):
        return next((a for a in self.applications.values() if a["appId"] == (app_id or "").lower()), None)

    def principal(self, key):
        found = self.principals.get((key or "").lower())
        if found is None:
            raise not_found(key)
        return found

    def principal_of(self, app_id):
        return next((sp for sp in self.principals.values() if sp["appId"] == (app_id or "").lower()), None)

    def granted(self, app_id):
        """The Microsoft Graph application permissions (values) the application of ``app_id`` holds with admin consent."""
        sp = self.principal_of(app_id)
        if sp is None:
            return set()
        by_id = dict((role_id, value) for value, role_id in GRAPH_APP_ROLES.items())
        return set(by_id[a["appRoleId"]] for a in self.assignments.values() if a["principalId"] == sp["id"] and a["resourceId"] == GRAPH_SP_ID
                   and a["appRoleId"] in by_id)

    # -- writes ----------------------------------------------------------------------------------------------------

    def create_application(self, body):
        object_id = str(uuid.uuid4())
        app = {"id": object_id, "appId": str(uuid.uuid4()), "displayName": None, "signInAudience": "AzureADMyOrg", "createdDateTime": now_iso(),
               "deletedDateTime": None, "description": None, "notes": None, "requiredResourceAccess": [], "passwordCredentials": [],
               "keyCredentials": [], "tags": [], "_secrets": {}}
        self._update(app, body)
        if not app["displayName"]:
            raise bad_request("Property 'displayName' is required.", code="Request_BadRequest")  # UNCONFIRMED wording
        self.applications[object_id] = app
        return app

    def update_application(self, key, body):
        app = self.application(key)
        self._update(app, body)
        return app

    def _update(self, app, body):
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in APPLICATION_WRITABLE:
                raise _type_error(name, "microsoft.graph.application")
        if "displayName" in body and (not isinstance(body["displayName"], str) or not body["displayName"].strip()):
            raise bad_request("Invalid value specified for property 'displayName' of resource 'Application'.")
        if "requiredResourceAccess" in body:
            app["requiredResourceAccess"] = self._resource_access(body["requiredResourceAccess"])
        if "keyCredentials" in body:
            app["keyCredentials"] = self._key_credentials(body["keyCredentials"])
        for name in ("displayName", "signInAudience", "description", "notes", "tags"):
            if name in body:
                app[name] = copy.deepcopy(body[name])

    @staticmethod
    def _resource_access(value):
        if not isinstance(value, list):
            raise bad_request("Invalid value specified for property 'requiredResourceAccess' of resource 'Application'.")
        out = []
        for entry in value:
            if not isinstance(entry, dict) or not isinstance(entry.get("resourceAppId"), str) or not isinstance(entry.get("resourceAccess"), list):
                raise bad_request("Invalid value specified for property 'requiredResourceAccess' of resource 'Application'.")
            access = []
            for item in entry["resourceAccess"]:
                if not isinstance(item, dict) or item.get("type") not in ("Role", "Scope") or not isinstance(item.get("id"), str):
                    raise bad_request("Invalid value specified for property 'requiredResourceAccess' of resource 'Application'.")
                access.append({"id": item["id"].lower(), "type": item["type"]})
            out.append({"resourceAppId": entry["resourceAppId"].lower(), "resourceAccess": access})
        return out

    @staticmethod
    def _key_credentials(value):
        if not isinstance(value, list):
            raise bad_request("Invalid value specified for property 'keyCredentials' of resource 'Application'.")
        out = []
        for item in value:
            if not isinstance(item, dict) or item.get("type") != "AsymmetricX509Cert" or item.get("usage") != "Verify":
                raise bad_request("Invalid value specified for property 'keyCredentials' of resource 'Application'.")
            try:
                der = base64.b64decode(item.get("key") or "", validate=True)
            except (ValueError, TypeError):
                der = b""
            if not der:
                # UNCONFIRMED wording: Graph checks that the key is a certificate (a PATCH must carry the key of every certificate
                # it keeps).
                raise bad_request("Invalid value specified for property 'key' of resource 'KeyCredential'.")
            thumbprint = hashlib.sha1(der).hexdigest().upper()
            out.append({"keyId": (item.get("keyId") or str(uuid.uuid4())).lower(), "type": "AsymmetricX509Cert", "usage": "Verify",
                        "displayName": item.get("displayName") or "CN=certificate", "customKeyIdentifier": thumbprint,
                        "startDateTime": item.get("startDateTime") or now_iso(), "endDateTime": item.get("endDateTime"),
                        "key": base64.b64encode(der).decode("ascii")})
        return out

    def add_password(self, key, body):
        app = self.application(key)
        credential = (body or {}).get("passwordCredential") if isinstance(body, dict) else None
        if body and not isinstance(credential, dict):
            raise _type_error(next(iter(body)), "microsoft.graph.addPassword")
        credential = credential or {}
        secret = secrets.token_urlsafe(30).replace("-", "~")[:40]
        secret_log.record("client_secret", secret, "graph addPassword %s" % app["appId"])
        start = now_iso()
        end = credential.get("endDateTime") or (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=730)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        stored = {"customKeyIdentifier": None, "displayName": credential.get("displayName"), "endDateTime": end, "hint": secret[:3],
                  "keyId": str(uuid.uuid4()), "secretText": None, "startDateTime": start}
        app["passwordCredentials"].append(stored)
        app["_secrets"][stored["keyId"]] = hashlib.sha256(secret.encode()).hexdigest()
        answer = dict(stored)
        answer["secretText"] = secret
        return answer

    def remove_password(self, key, body):
        app = self.application(key)
        key_id = (body or {}).get("keyId") if isinstance(body, dict) else None
        if not isinstance(key_id, str) or not any(c["keyId"] == key_id.lower() for c in app["passwordCredentials"]):
            raise bad_request("No password credential found with keyId %s." % key_id)  # UNCONFIRMED wording
        app["passwordCredentials"] = [c for c in app["passwordCredentials"] if c["keyId"] != key_id.lower()]
        app["_secrets"].pop(key_id.lower(), None)

    def check_secret(self, app_id, secret):
        app = self.application_by_app_id(app_id)
        if app is None or not isinstance(secret, str):
            return False
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return any(secrets.compare_digest(digest, stored) for stored in app["_secrets"].values())

    def delete_application(self, key):
        app = self.application(key)
        sp = self.principal_of(app["appId"])
        if sp is not None:
            self._delete_principal(sp["id"])
        del self.applications[app["id"]]

    def _delete_principal(self, sp_id):
        for assignment_id in [k for k, a in self.assignments.items() if sp_id in (a["principalId"], a["resourceId"])]:
            del self.assignments[assignment_id]
        del self.principals[sp_id]

    def create_principal(self, body):
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name in body:
            if not name.startswith("@odata.") and name not in ("appId", "accountEnabled", "tags"):
                raise _type_error(name, "microsoft.graph.servicePrincipal")
        app = self.application_by_app_id(body.get("appId")) if isinstance(body.get("appId"), str) else None
        if app is None:
            # UNCONFIRMED wording (Graph refuses an appId no application of the tenant or a multi-tenant publisher has).
            raise bad_request("The appId '%s' of the service principal does not reference a valid application object." % body.get("appId"),
                              code="Request_BadRequest")
        if self.principal_of(app["appId"]) is not None:
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", SP_EXISTS % app["appId"])  # UNCONFIRMED status
        sp = {"id": str(uuid.uuid4()), "appId": app["appId"], "displayName": app["displayName"], "servicePrincipalType": "Application",
              "accountEnabled": body.get("accountEnabled", True) is not False, "appOwnerOrganizationId": self.tenant.tenant_id,
              "appRoles": [], "tags": list(body.get("tags") or [])}
        self.principals[sp["id"]] = sp
        return sp

    def assign(self, sp_key, body):
        sp = self.principal(sp_key)
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name in body:
            if not name.startswith("@odata.") and name not in ("principalId", "resourceId", "appRoleId"):
                raise _type_error(name, "microsoft.graph.appRoleAssignment")
        if str(body.get("principalId") or "").lower() != sp["id"]:
            # UNCONFIRMED wording: the principal of an assignment created under a service principal must be that principal.
            raise bad_request("The principalId of the app role assignment must be the id of the service principal in the URL.")
        resource = self.principals.get(str(body.get("resourceId") or "").lower())
        if resource is None:
            raise not_found(body.get("resourceId"))
        role_id = str(body.get("appRoleId") or "").lower()
        if not any(role["id"] == role_id for role in resource["appRoles"]):
            raise bad_request(ROLE_NOT_FOUND % resource["appId"])
        if any(a["principalId"] == sp["id"] and a["resourceId"] == resource["id"] and a["appRoleId"] == role_id for a in self.assignments.values()):
            raise bad_request(ASSIGNMENT_EXISTS)
        raw = uuid.uuid4().bytes
        assignment = {"id": base64.urlsafe_b64encode(raw + raw[:8]).decode().rstrip("="), "appRoleId": role_id, "createdDateTime": now_iso(),
                      "deletedDateTime": None, "principalDisplayName": sp["displayName"], "principalId": sp["id"],
                      "principalType": "ServicePrincipal", "resourceDisplayName": resource["displayName"], "resourceId": resource["id"]}
        self.assignments[assignment["id"]] = assignment
        return assignment

    def unassign(self, sp_key, assignment_id):
        sp = self.principal(sp_key)
        assignment = self.assignments.get(assignment_id)
        if assignment is None or assignment["principalId"] != sp["id"]:
            raise not_found(assignment_id)
        del self.assignments[assignment_id]

    def assignments_of(self, sp_key):
        sp = self.principal(sp_key)
        return [a for a in self.assignments.values() if a["principalId"] == sp["id"]]

    # -- control API -----------------------------------------------------------------------------------------------

    def seed(self, spec):
        """An application with its service principal, the Microsoft Graph permissions ``spec["roles"]`` granted and, unless
        ``spec["credential"]`` is false, a client secret (control API, tests). Returns the application's public view."""
        app = self.create_application({"displayName": spec.get("displayName") or "Practice Protect"})
        sp = self.create_principal({"appId": app["appId"]})
        for value in spec.get("roles") or []:
            if value not in GRAPH_APP_ROLES:
                raise bad_request("unknown Microsoft Graph application permission %r" % value)
            self.assign(sp["id"], {"principalId": sp["id"], "resourceId": GRAPH_SP_ID, "appRoleId": GRAPH_APP_ROLES[value]})
        if spec.get("credential", True):
            self.add_password(app["id"], {"passwordCredential": {"displayName": "seed"}})
        return public_application(app)

    def dump(self):
        return {"applications": [public_application(a) for a in self.applications.values()],
                "servicePrincipals": [copy.deepcopy(sp) for sp in self.principals.values() if sp["id"] != GRAPH_SP_ID],
                "appRoleAssignments": [copy.deepcopy(a) for a in self.assignments.values()]}


def public_application(app, with_keys=False):
    """The application as reads show it: a certificate's ``key`` only on a ``$select=keyCredentials`` read of this one object
    (application resource docs, keyCredentials)."""
    out = {name: copy.deepcopy(app.get(name)) for name in APPLICATION_PROPERTIES}
    if not with_keys:
        out["keyCredentials"] = [dict(key, key=None) for key in out["keyCredentials"] or []]
    return out


def _filtered(call, items):
    text = call.options().get("$filter")
    if text is None:
        return items
    match = FILTER_RE.match(text)
    if match is None:
        raise bad_request("Unsupported query.", code="Request_UnsupportedQuery")  # the sandbox supports appId eq and displayName eq only
    name = "appId" if match.group(1).lower() == "appid" else "displayName"
    value = match.group(2).replace("''", "'").lower()
    return [item for item in items if (item.get(name) or "").lower() == value]


def _selected(call, items, properties, type_name, context):
    select = query.parse_select(call.options().get("$select"), properties, type_name)
    value = [{name: copy.deepcopy(item.get(name)) for name in (select or properties)} for item in items]
    return query.Result(200, {"@odata.context": "%s%s%s" % (query.METADATA, context, query.context_select(select)), "value": value})


class ApplicationResponses:
    """Handlers of the application, service principal and app role assignment routes (graph_urls.HANDLERS)."""

    @property
    def registrations(self):
        return self.tenant.registrations

    def list_applications(self, call):
        query.only_options(call, ("$select", "$filter", "$top"))
        items = _filtered(call, [public_application(a) for a in self.registrations.applications.values()])
        return _selected(call, items, APPLICATION_PROPERTIES, "microsoft.graph.application", "applications")

    def create_application(self, call):
        app = self.registrations.create_application(call.json())
        body = {"@odata.context": query.METADATA + "applications/$entity"}
        body.update(public_application(app))
        return query.Result(201, body)

    def get_application(self, call, key):
        query.only_options(call, ("$select",))
        select = query.parse_select(call.options().get("$select"), APPLICATION_PROPERTIES, "microsoft.graph.application", collection=False)
        app = public_application(self.registrations.application(key), with_keys=bool(select) and "keyCredentials" in select)
        body = {"@odata.context": "%sapplications%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update(dict((name, app.get(name)) for name in (select or APPLICATION_PROPERTIES)))
        return query.Result(200, body)

    def update_application(self, call, key):
        self.registrations.update_application(key, call.json())
        return query.Result(204)

    def delete_application(self, call, key):
        self.registrations.delete_application(key)
        return query.Result(204)

    def add_password(self, call, key):
        answer = self.registrations.add_password(key, call.json(required=False))
        body = {"@odata.context": query.METADATA + "microsoft.graph.passwordCredential"}
        body.update(answer)
        return query.Result(200, body)

    def remove_password(self, call, key):
        self.registrations.remove_password(key, call.json())
        return query.Result(204)

    def list_service_principals(self, call):
        query.only_options(call, ("$select", "$filter", "$top"))
        items = _filtered(call, list(self.registrations.principals.values()))
        return _selected(call, items, SERVICE_PRINCIPAL_PROPERTIES, "microsoft.graph.servicePrincipal", "servicePrincipals")

    def create_service_principal(self, call):
        sp = self.registrations.create_principal(call.json())
        body = {"@odata.context": query.METADATA + "servicePrincipals/$entity"}
        body.update(copy.deepcopy(sp))
        return query.Result(201, body)

    def get_service_principal(self, call, key):
        query.only_options(call, ("$select",))
        select = query.parse_select(call.options().get("$select"), SERVICE_PRINCIPAL_PROPERTIES, "microsoft.graph.servicePrincipal",
                                    collection=False)
        sp = self.registrations.principal(key)
        body = {"@odata.context": "%sservicePrincipals%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update(dict((name, copy.deepcopy(sp.get(name))) for name in (select or SERVICE_PRINCIPAL_PROPERTIES)))
        return query.Result(200, body)

    def list_app_role_assignments(self, call, key):
        query.only_options(call, ("$select", "$top"))
        items = self.registrations.assignments_of(key)
        return _selected(call, items, ASSIGNMENT_PROPERTIES, "microsoft.graph.appRoleAssignment",
                         "servicePrincipals('%s')/appRoleAssignments" % key)

    def create_app_role_assignment(self, call, key):
        assignment = self.registrations.assign(key, call.json())
        body = {"@odata.context": query.METADATA + "servicePrincipals('%s')/appRoleAssignments/$entity" % key}
        body.update(copy.deepcopy(assignment))
        return query.Result(201, body)

    def delete_app_role_assignment(self, call, key, assignment_id):
        self.registrations.unassign(key, assignment_id)
        return query.Result(204)
