"""Microsoft Graph v1.0: the HTTP shape of users, licences, domains, deleted items and $batch.

Every request, whether it comes over HTTP or inside a $batch, goes through ``GraphApp.execute``: route,
permission check, throttling, handler, request log. Handlers turn ``state.Tenant`` calls into Graph bodies.
The endpoint -> roles table (ROUTE_PERMISSIONS) and the resource-unit cost table (RU_COSTS) are plain dicts
so that documentation can be checked against them.
"""

import base64
import json
import logging
import re
import uuid
from urllib.parse import unquote_plus, urlsplit

from starlette.responses import Response

from . import auth
from . import mail
from . import secret_log
from . import state as state_module
from .errors import GraphError, bad_request, error_body, forbidden, segment_not_found, throttled_body

try:  # the $filter engine; see its module for the interface
    from . import odata
except ImportError:  # pragma: no cover - only while odata.py is being written
    odata = None

LOG = logging.getLogger("tests.sandbox.graph")

METADATA = "https://graph.microsoft.com/v1.0/$metadata#"
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

# --------------------------------------------------------------------------------------------------------------
# Permissions (application roles; any one suffices) and resource-unit costs, by "METHOD /template".

READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_SKUS = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
             "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All")
READ_DOMAINS = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_ROLE_MANAGEMENT = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                        "Directory.ReadWrite.All")
WRITE_ROLE_MANAGEMENT = ("RoleManagement.ReadWrite.Directory",)
# Groups: group-list, group-get, group-list-members, group-list-transitivemembers (application: GroupMember.Read.All least
# privileged; Group.Read.All, Group.ReadWrite.All, GroupMember.ReadWrite.All, Directory.Read.All higher). Directory.ReadWrite.All
# covers them too (UNCONFIRMED: the docs' tables do not list it for every one of these).
READ_GROUPS = ("GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All")
# group-post-members and group-delete-members: GroupMember.ReadWrite.All least privileged (for user and group members).
WRITE_GROUP_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
# user-list-memberof: the current docs give Directory.Read.All as the least privileged application permission; with
# User.Read.All the call works and groups come back with their id and type only (Graph's "limited information returned for
# inaccessible member objects"; confirmed by a Microsoft MVP's test with User.Read.All, then User.Read.All and
# GroupMember.Read.All). The sandbox accepts the user and group read permissions and applies that limit.
READ_MEMBER_OF = READ_USERS + READ_GROUPS
# What lets a caller see a member object's properties rather than its id and type only.
SEE_USERS = READ_USERS + ("User.ReadBasic.All",)
SEE_GROUPS = READ_GROUPS

ROUTE_PERMISSIONS = {
    "GET /users": READ_USERS,
    "GET /users/$count": READ_USERS,
    "GET /users/{id}": READ_USERS,
    "GET /users/{id}/manager": READ_USERS,
    # Open extensions on users (opentypeextension-post/get/update/delete docs): User.Read.All to read, User.ReadWrite.All to write
    # (least privileged for applications); "the same privileges that your app requires to read from or write to a resource instance"
    # (extensibility-overview), so the Directory.* forms too.
    "GET /users/{id}/extensions": READ_USERS,
    "GET /users/{id}/extensions/{id}": READ_USERS,
    "POST /users/{id}/extensions": WRITE_USERS,
    "PATCH /users/{id}/extensions/{id}": WRITE_USERS,
    "DELETE /users/{id}/extensions/{id}": WRITE_USERS,
    "POST /users": WRITE_USERS,
    "PATCH /users/{id}": WRITE_USERS,
    # A PATCH whose body holds only accountEnabled.
    "PATCH /users/{id} (accountEnabled only)": WRITE_USERS + ("User.EnableDisableAccount.All",),
    "DELETE /users/{id}": WRITE_USERS,
    "PUT /users/{id}/manager/$ref": WRITE_USERS,
    "DELETE /users/{id}/manager/$ref": WRITE_USERS,
    "POST /users/{id}/assignLicense": ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    # user-revokesigninsessions docs: User.RevokeSessions.All for apps; User.ReadWrite.All works app-only too (Microsoft Q&A
    # 1691984); Directory.ReadWrite.All is listed for delegated callers only (UNCONFIRMED for apps, accepted here).
    "POST /users/{id}/revokeSignInSessions": ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    # user-sendmail docs: Mail.Send only (no higher application permission).
    "POST /users/{id}/sendMail": ("Mail.Send",),
    "POST /users/{id}/microsoft.graph.sendMail": ("Mail.Send",),
    "GET /subscribedSkus": READ_SKUS,
    "GET /domains": READ_DOMAINS,
    "GET /domains/{id}": READ_DOMAINS,
    "GET /directory/deletedItems/microsoft.graph.user": READ_USERS,
    "GET /directory/deletedItems/microsoft.graph.user/$count": READ_USERS,
    "GET /directory/deletedItems/{id}": READ_USERS,
    "POST /directory/deletedItems/{id}/restore": WRITE_USERS,
    "DELETE /directory/deletedItems/{id}": WRITE_USERS,
    "GET /roleManagement/directory/roleDefinitions": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleDefinitions/{id}": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleAssignments": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleAssignments/{id}": READ_ROLE_MANAGEMENT,
    "POST /roleManagement/directory/roleAssignments": WRITE_ROLE_MANAGEMENT,
    "DELETE /roleManagement/directory/roleAssignments/{id}": WRITE_ROLE_MANAGEMENT,
    "GET /groups": READ_GROUPS,
    "GET /groups/{id}": READ_GROUPS,
    "GET /groups/{id}/members": READ_GROUPS,
    "GET /groups/{id}/members/microsoft.graph.user": READ_GROUPS,
    "GET /groups/{id}/members/microsoft.graph.group": READ_GROUPS,
    "GET /groups/{id}/transitiveMembers": READ_GROUPS,
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": READ_GROUPS,
    "POST /groups/{id}/members/$ref": WRITE_GROUP_MEMBERS,
    "DELETE /groups/{id}/members/{id}/$ref": WRITE_GROUP_MEMBERS,
    "GET /users/{id}/memberOf": READ_MEMBER_OF,
    # None: no role of its own; every sub-request is checked on its own.
    "POST /$batch": None,
}

# Base RU cost (Graph throttling limits, identity and access); routes not listed cost 1. Writes also take one token from the write bucket.
RU_COSTS = {
    "GET /users": 2,
    "GET /users/$count": 2,
    "GET /users/{id}": 2,
    "GET /users/{id}/manager": 2,
    # Open extensions are not in the cost table: 1 RU (GET), 1 RU and one write (POST, PATCH, DELETE).
    "GET /users/{id}/extensions": 1,
    "GET /users/{id}/extensions/{id}": 1,
    "POST /users/{id}/extensions": 1,
    "PATCH /users/{id}/extensions/{id}": 1,
    "DELETE /users/{id}/extensions/{id}": 1,
    "GET /subscribedSkus": 3,
    "POST /users/{id}/revokeSignInSessions": 1,
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": 1,
    # Outlook's own limits (per app and mailbox) are not emulated; the identity write bucket counts the call (UNCONFIRMED).
    "POST /users/{id}/sendMail": 1,
    "POST /users/{id}/microsoft.graph.sendMail": 1,
    "GET /groups/{id}/members": 3,
    "GET /groups/{id}/members/microsoft.graph.user": 3,
    "GET /groups/{id}/members/microsoft.graph.group": 3,
    "GET /groups/{id}/transitiveMembers": 5,
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": 5,
    "GET /users/{id}/memberOf": 2,
}

# Routes whose 403 is not the directory's Authorization_RequestDenied (Outlook answers ErrorAccessDenied; see mail.py).
ROUTE_DENIED = {
    "POST /users/{id}/sendMail": mail.access_denied,
    "POST /users/{id}/microsoft.graph.sendMail": mail.access_denied,
}

# "METHOD /template" -> GraphApp method name. Templates are matched segment by segment, case-insensitively;
# {id} matches any one segment, and a literal beats {id}.
HANDLERS = {
    "POST /$batch": "batch",
    "GET /users": "list_users",
    "POST /users": "create_user",
    "GET /users/$count": "count_users",
    "GET /users/{id}": "get_user",
    "PATCH /users/{id}": "update_user",
    "DELETE /users/{id}": "delete_user",
    "GET /users/{id}/manager": "get_manager",
    "PUT /users/{id}/manager/$ref": "set_manager",
    "DELETE /users/{id}/manager/$ref": "remove_manager",
    "GET /users/{id}/extensions": "list_extensions",
    "POST /users/{id}/extensions": "create_extension",
    "GET /users/{id}/extensions/{id}": "get_extension",
    "PATCH /users/{id}/extensions/{id}": "update_extension",
    "DELETE /users/{id}/extensions/{id}": "delete_extension",
    "POST /users/{id}/assignLicense": "assign_license",
    "POST /users/{id}/revokeSignInSessions": "revoke_sign_in_sessions",
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": "revoke_sign_in_sessions",
    "POST /users/{id}/sendMail": "send_mail",
    "POST /users/{id}/microsoft.graph.sendMail": "send_mail",
    "GET /subscribedSkus": "list_skus",
    "GET /domains": "list_domains",
    "GET /domains/{id}": "get_domain",
    "GET /directory/deletedItems/microsoft.graph.user": "list_deleted",
    "GET /directory/deletedItems/microsoft.graph.user/$count": "count_deleted",
    "GET /directory/deletedItems/{id}": "get_deleted",
    "POST /directory/deletedItems/{id}/restore": "restore_deleted",
    "DELETE /directory/deletedItems/{id}": "purge_deleted",
    "GET /roleManagement/directory/roleDefinitions": "list_role_definitions",
    "GET /roleManagement/directory/roleDefinitions/{id}": "get_role_definition",
    "GET /roleManagement/directory/roleAssignments": "list_role_assignments",
    "GET /roleManagement/directory/roleAssignments/{id}": "get_role_assignment",
    "POST /roleManagement/directory/roleAssignments": "create_role_assignment",
    "DELETE /roleManagement/directory/roleAssignments/{id}": "delete_role_assignment",
    "GET /groups": "list_groups",
    "GET /groups/{id}": "get_group",
    "GET /groups/{id}/members": "list_members",
    "GET /groups/{id}/members/microsoft.graph.user": "list_user_members",
    "GET /groups/{id}/members/microsoft.graph.group": "list_group_members",
    "GET /groups/{id}/transitiveMembers": "list_transitive_members",
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": "list_transitive_user_members",
    "POST /groups/{id}/members/$ref": "add_member",
    "DELETE /groups/{id}/members/{id}/$ref": "remove_member",
    "GET /users/{id}/memberOf": "list_member_of",
}
TEMPLATES = sorted({key.split(" ", 1)[1] for key in HANDLERS})

ORDERABLE = {"displayName": False, "userPrincipalName": False, "createdDateTime": True, "deletedDateTime": True}  # name: advanced only
SEARCHABLE = ("displayName", "givenName", "surname", "mail", "mailNickname", "userPrincipalName", "jobTitle", "department")
USER_TYPE = state_module.ENTITY_TYPES["user"]["odata_type"]
SKIPTOKEN_PREFIX = "RFNwdAIAAQAAA"  # opaque to clients, like Graph's
OBJECT_TYPES = {"user": USER_TYPE, "group": state_module.ENTITY_TYPES["group"]["odata_type"], "directoryRole": "#microsoft.graph.directoryRole"}
DIRECTORY_ROLE_PROPERTIES = ("id", "deletedDateTime", "description", "displayName", "roleTemplateId")
# UNCONFIRMED wording: the refusal of $filter on a relationship, or of a cast on a transitive list, without advanced mode.
ADVANCED_RELATIONSHIP_MESSAGE = ("This query needs advanced query capabilities: add the ConsistencyLevel: eventual header and $count=true. "
                                 "Refer to https://aka.ms/graph-docs/advanced-queries for more information")


class Call:
    """One Graph request (HTTP or $batch item)."""

    def __init__(self, method, path, raw_query, headers, body, base_url, claims, request_id=None, batch=None):
        self.method = method.upper()
        self.path = "/" + path.strip("/")
        self.raw_query = raw_query or ""
        self.headers = {key.lower(): value for key, value in (headers or {}).items()}
        self.body = body or b""
        self.base_url = base_url
        self.claims = claims or {}
        self.request_id = request_id or str(uuid.uuid4())
        self.client_request_id = self.headers.get("client-request-id") or self.request_id
        self.batch = batch
        self.log_seq = None
        self._json = None
        self._options = None

    @property
    def app_id(self):
        return self.claims.get("appid")

    @property
    def is_write(self):
        return self.method not in ("GET", "HEAD", "OPTIONS")

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def json(self, required=True):
        if self._json is None:
            if not self.body.strip():
                if not required:
                    return None
                raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError):
                raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
                                  "JSON format.", code="BadRequest")
        return self._json

    def body_keys(self):
        try:
            body = json.loads(self.body) if self.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return []
        return list(body) if isinstance(body, dict) else []

    def options(self):
        """System query options ($name, lower case) -> decoded value; repeated options are refused as OData does."""
        if self._options is None:
            options = {}
            for part in self.raw_query.split("&"):
                if not part:
                    continue
                key, _, value = part.partition("=")
                key = unquote_plus(key).strip().lower()
                if not key.startswith("$"):
                    continue
                if key in options:
                    raise bad_request("Query option '%s' was specified more than once, but it must be specified at most once." % key,
                                      code="BadRequest")
                options[key] = unquote_plus(value)
            self._options = options
        return self._options


class Result:
    """A Graph answer before it is rendered (as HTTP or as a $batch item)."""

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _error_result(call, exc):
    headers = dict(exc.headers)
    if exc.status == 429:
        return Result(429, throttled_body(call.request_id, call.client_request_id), headers)
    return Result(exc.status, error_body(exc.code, exc.message, call.request_id, call.client_request_id, exc.details), headers)


def _odata_error(exc):
    return GraphError(exc.status, exc.code, exc.message)


def _context_select(select):
    return "(%s)" % ",".join(select) if select else ""


class GraphApp:
    """The Graph service: an ASGI app over a runtime (tenant, tokens, realism, urls)."""

    def __init__(self, runtime):
        self.rt = runtime

    @property
    def tenant(self):
        return self.rt.tenant

    # ----------------------------------------------------------------------------------------------------------
    # HTTP

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {}
        for key, value in scope["headers"]:
            headers[key.decode("latin-1").lower()] = value.decode("latin-1")
        host = headers.get("host") or "%s:%s" % scope["server"]
        base_url = "https://%s" % host
        path = scope["path"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        method = scope["method"]
        secret_log.record_passwords(body, "graph %s %s" % (method, path))  # passwordProfile.password, also in $batch
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id") or request_id
        probe = Call(method, "/", raw_query, headers, body, base_url, None, request_id=request_id)
        version, _, rest = path.lstrip("/").partition("/")
        if version != "v1.0":
            result = _error_result(probe, GraphError(400, "BadRequest", "Invalid version: %s" % (version or "(none)")))
            self.tenant.log_request("graph", method, path, raw_query, result.status, app_id=auth.peek_app_id(headers.get("authorization")),
                                    write=method not in ("GET", "HEAD", "OPTIONS"), body_keys=probe.body_keys())
            await self._send(send, result, request_id, client_request_id)
            return
        try:
            claims = self.rt.tokens.validate(headers.get("authorization"), self.rt.urls["graph"])
        except GraphError as exc:
            result = _error_result(probe, exc)
            result.headers["WWW-Authenticate"] = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
                                                  'authorize", client_id="00000003-0000-0000-c000-000000000000"')
            self.tenant.log_request("graph", method, path, raw_query, result.status, app_id=auth.peek_app_id(headers.get("authorization")),
                                    write=method not in ("GET", "HEAD", "OPTIONS") and not rest.startswith("$batch"),
                                    body_keys=probe.body_keys())
            await self._send(send, result, request_id, client_request_id)
            return
        call = Call(method, rest, raw_query, headers, body, base_url, claims, request_id=request_id)
        result = self.execute(call)
        await self._send(send, result, request_id, client_request_id)

    async def _send(self, send, result, request_id, client_request_id):
        headers = {
            "Cache-Control": "no-cache",
            "Strict-Transport-Security": "max-age=31536000",
            "request-id": request_id,
            "client-request-id": client_request_id,
            "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Australia East", "Slice": "E", "Ring": "3",
                                                              "ScaleUnit": "001", "RoleInstance": "SY3PEPF0000SBX1"}},
                                              separators=(",", ":")),
        }
        if isinstance(result.body, (dict, list)):
            content = json.dumps(result.body).encode("utf-8")
            headers["OData-Version"] = "4.0"
            media_type = JSON_TYPE
        elif isinstance(result.body, str):
            content = result.body.encode("utf-8")
            media_type = "text/plain"
        else:
            content = b""
            media_type = None
        headers.update(result.headers)
        response = Response(content, status_code=result.status, headers=headers, media_type=media_type)
        await response({"type": "http"}, None, send)

    # ----------------------------------------------------------------------------------------------------------
    # The pipeline shared by HTTP requests and $batch items

    def match(self, call):
        """(route key, template parameters) for a call; GraphError for an unknown segment or method."""
        segments = [segment for segment in call.path.strip("/").split("/")] if call.path.strip("/") else []
        best = None
        for template in TEMPLATES:
            parts = template.strip("/").split("/")
            if len(parts) != len(segments):
                continue
            params, literals = [], 0
            for part, segment in zip(parts, segments):
                if part == "{id}" and segment:
                    params.append(segment)
                elif part.lower() == segment.lower():
                    literals += 1
                else:
                    break
            else:
                if best is None or literals > best[1]:
                    best = (template, literals, params)
        if best is None:
            raise segment_not_found(self._unmatched_segment(segments))
        key = "%s %s" % (call.method, best[0])
        if key not in HANDLERS:
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")
        return key, best[2]

    @staticmethod
    def _unmatched_segment(segments):
        for index in range(len(segments)):
            prefix = segments[:index + 1]
            if not any(len(t.strip("/").split("/")) > index and all(
                    part == "{id}" or part.lower() == segment.lower() for part, segment in zip(t.strip("/").split("/"), prefix))
                    for t in TEMPLATES):
                return segments[index]
        return segments[-1] if segments else ""

    def required_roles(self, key, call):
        if key == "PATCH /users/{id}":
            try:
                body = call.json(required=False)
            except GraphError:
                body = None
            if isinstance(body, dict) and set(body) == {"accountEnabled"}:
                return ROUTE_PERMISSIONS["PATCH /users/{id} (accountEnabled only)"]
        return ROUTE_PERMISSIONS[key]

    @staticmethod
    def ru_cost(key, call):
        cost = RU_COSTS.get(key, 1)
        if call.method == "GET":
            try:
                options = call.options()
            except GraphError:
                options = {}
            if "$select" in options:
                cost -= 1
            if "$expand" in options:
                cost += 1
            top = options.get("$top", "")
            if top.isdigit() and int(top) < 20:
                cost -= 1
        return max(1, cost)

    def execute(self, call):
        """Run one call: route, permission, throttling, handler; log it. Always returns a Result."""
        entry = self.tenant.log_request("graph", call.method, "/v1.0" + call.path, call.raw_query, None, app_id=call.app_id,
                                        write=call.is_write, batch=call.batch, body_keys=call.body_keys())
        call.log_seq = entry["seq"]
        usage = {}
        try:
            key, params = self.match(call)
            if key == "POST /$batch":
                entry["write"] = False
            roles = self.required_roles(key, call)
            if roles is not None and not auth.has_any_role(call.claims, roles):
                raise ROUTE_DENIED[key]() if key in ROUTE_DENIED else forbidden()
            if roles is not None:
                throttle = self.rt.realism.charge(call.app_id, self.ru_cost(key, call), call.is_write)
                usage = throttle.headers
                if throttle.limited:
                    raise GraphError(429, "TooManyRequests", "Please retry again later.", headers={
                        "Retry-After": str(throttle.retry_after), "x-ms-throttle-scope": throttle.scope,
                        "x-ms-throttle-information": throttle.information})
            result = getattr(self, HANDLERS[key])(call, *params)
        except GraphError as exc:
            result = _error_result(call, exc)
        except Exception:  # a bug in the sandbox: answer like Graph's 500 and keep serving
            LOG.exception("unhandled error in %s %s", call.method, call.path)
            result = _error_result(call, GraphError(500, "UnknownError", "An unexpected error occurred in the sandbox."))
        for name, value in usage.items():
            result.headers.setdefault(name, value)
        entry["status"] = result.status
        return result

    # ----------------------------------------------------------------------------------------------------------
    # Query options

    @staticmethod
    def _advanced(call):
        eventual = call.header("consistencylevel").strip().lower() == "eventual"
        return eventual, eventual and GraphApp._count_option(call)

    @staticmethod
    def _count_option(call):
        value = call.options().get("$count")
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise bad_request("'%s' is not a valid count option." % value, code="BadRequest")
        return value.lower() == "true"

    @staticmethod
    def _select(text, properties, type_name, single_only=(), collection=True):
        """Validated $select list (canonical names) or None for the default set."""
        if text is None:
            return None
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            return None
        lookup = {name.lower(): name for name in list(properties) + list(single_only)}
        out = []
        for name in names:
            if name == "*":
                out.extend(name for name in properties if name not in out)
                continue
            canonical = lookup.get(name.lower())
            if canonical is None:
                raise bad_request("Could not find a property named '%s' on type '%s'." % (name, type_name))
            if collection and canonical in single_only:
                # UNCONFIRMED wording; the user list docs give the status (501).
                raise GraphError(501, "NotImplemented", "This operation target is not yet supported.")
            if canonical not in out:
                out.append(canonical)
        return out

    def _user_select(self, call, collection):
        properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
        return self._select(call.options().get("$select"), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY, collection)

    @staticmethod
    def _expand(call):
        """$expand on users: None, ("manager", its $select list ([] for the default set)) for manager or manager($select=a,b),
        or ("extensions", an extension id or None) for extensions or extensions($filter=id eq '<name>') (opentypeextension-get docs)."""
        text = call.options().get("$expand")
        if not text:
            return None
        match = re.match(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", text)
        if not match:
            raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
        name, inner = match.group(1), match.group(2)
        if name.lower() == "extensions":
            if inner is None:
                return ("extensions", None)
            wanted = re.match(r"^\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*$", inner, re.IGNORECASE)
            if not wanted:
                # UNCONFIRMED wording; the sandbox emulates only the documented $filter=id eq '...' inside this $expand.
                raise bad_request("The query specified in the URI is not valid: only $filter=id eq '<extension id>' is supported inside "
                                  "$expand=extensions.", code="BadRequest")
            return ("extensions", wanted.group(1).replace("''", "'"))
        if name.lower() != "manager":
            if name in state_module.USER_SCHEMA or name in state_module.USER_UNMODELLED:
                raise bad_request("Property '%s' on type 'microsoft.graph.user' is not a navigation property or complex property. Only "
                                  "navigation properties can be expanded." % name, code="BadRequest")
            raise bad_request("Could not find a property named '%s' on type 'microsoft.graph.user'." % name)
        if inner is None:
            return ("manager", [])
        select = re.match(r"^\s*\$select\s*=\s*([^)]*)$", inner)
        if not select:
            raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
        properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
        return ("manager", GraphApp._select(select.group(1), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY) or [])

    @staticmethod
    def _filter(text, entity, advanced):
        """The parsed $filter (or None); the 400s of odata.py, including the advanced-query one."""
        if text is None:
            return None
        if odata is None:
            raise GraphError(400, "Request_UnsupportedQuery", "$filter is not available in this sandbox build.")
        try:
            node = odata.parse_filter(text)
            if not advanced:
                message = odata.needs_advanced(node, entity)
                if message:
                    raise GraphError(400, "Request_UnsupportedQuery", message)
            odata.check_properties(node, entity)
        except odata.ODataError as exc:
            raise _odata_error(exc)
        return node

    @staticmethod
    def _matches(node, obj):
        return odata.evaluate(node, obj)

    @staticmethod
    def _top(call, maximum=999):
        text = call.options().get("$top")
        if text is None:
            return None
        if not re.match(r"^\s*-?\d+\s*$", text):
            raise bad_request("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer "
                              "value." % text, code="BadRequest")
        value = int(text)
        if value < 0:
            raise bad_request("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer "
                              "value." % text, code="BadRequest")
        if not 1 <= value <= maximum:
            raise bad_request("Invalid page size specified: '%d'. Must be between 1 and %d inclusive." % (value, maximum))
        return value

    @staticmethod
    def _orderby(call, advanced, has_filter):
        text = call.options().get("$orderby")
        if text is None:
            return None
        clauses = [clause.strip() for clause in text.split(",") if clause.strip()]
        unsupported = GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
        if len(clauses) != 1:
            raise unsupported
        parts = clauses[0].split()
        if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
        lookup = {name.lower(): name for name in list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)}
        name = lookup.get(parts[0].lower())
        if name is None:
            raise bad_request("Could not find a property named '%s' on type 'microsoft.graph.user'." % parts[0])
        if name not in ORDERABLE or (ORDERABLE[name] and not advanced) or (has_filter and not advanced):
            raise unsupported
        return name, len(parts) == 2 and parts[1].lower() == "desc"

    @staticmethod
    def _search(call, eventual):
        text = call.options().get("$search")
        if text is None:
            return None
        if not eventual:
            raise GraphError(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a "
                                                              "special request header: 'ConsistencyLevel: eventual'")
        clauses = re.findall(r'"([^":]+):([^"]*)"|\b(AND|OR)\b', text)
        terms, joins = [], []
        for prop, value, join in clauses:
            if join:
                joins.append(join)
            else:
                lookup = {name.lower(): name for name in SEARCHABLE}
                canonical = lookup.get(prop.strip().lower())
                if canonical is None:
                    raise bad_request("Invalid search property '%s'." % prop.strip(), code="Request_UnsupportedQuery")
                terms.append((canonical, value.strip().lower()))
        if not terms:
            raise bad_request("Syntax error: character '%s' is not valid at position 0 in '%s'." % (text[:1], text), code="BadRequest")
        return terms, ("OR" if "OR" in joins else "AND")

    @staticmethod
    def _search_match(search, obj):
        terms, join = search

        def hit(prop, term):
            value = obj.get(prop) or ""
            words = [word.lower() for word in re.split(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])", value) if word]
            return value.lower().startswith(term) or any(word.startswith(term) for word in words)

        results = [hit(prop, term) for prop, term in terms]
        return any(results) if join == "OR" else all(results)

    @staticmethod
    def _skip(call):
        token = call.options().get("$skiptoken")
        if token is None:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token[len(SKIPTOKEN_PREFIX):] + "=" * (-len(token[len(SKIPTOKEN_PREFIX):]) % 4)).decode()
            kind, offset = raw.split(":")
            if not token.startswith(SKIPTOKEN_PREFIX) or kind != "offset":
                raise ValueError(token)
            return int(offset)
        except (ValueError, UnicodeDecodeError):
            # UNCONFIRMED wording.
            raise bad_request("The specified page token value has expired and can no longer be included in your request.")

    @staticmethod
    def _next_link(call, offset):
        token = SKIPTOKEN_PREFIX + base64.urlsafe_b64encode(("offset:%d" % offset).encode()).decode().rstrip("=")
        parts = [part for part in call.raw_query.split("&") if part and unquote_plus(part.partition("=")[0]).strip().lower() != "$skiptoken"]
        parts.append("$skiptoken=" + token)
        return "%s/v1.0%s?%s" % (call.base_url, call.path, "&".join(parts))

    # ----------------------------------------------------------------------------------------------------------
    # Projection

    def user_value(self, data, name):
        if name == "passwordProfile" or name in state_module.USER_SINGLE_ONLY:
            return None
        if name == "identities":
            initial = next((n for n, d in self.tenant.domains.items() if d["isInitial"]), state_module.INITIAL_DOMAIN)
            return [{"signInType": "userPrincipalName", "issuer": initial, "issuerAssignedId": data.get("userPrincipalName")}]
        if name == "securityIdentifier":
            raw = uuid.UUID(data["id"]).bytes_le
            return "S-1-12-1-" + "-".join(str(int.from_bytes(raw[i:i + 4], "little")) for i in range(0, 16, 4))
        if name in data:
            value = data[name]
        elif name in state_module.USER_UNMODELLED:
            value = state_module.USER_UNMODELLED[name]
        else:
            value = None
        if value is None and name in state_module.COLLECTION_PROPERTIES:
            value = []
        return json.loads(json.dumps(value))

    def project_user(self, data, select, expand=None, prefix=None):
        """A user's properties (``select`` or the default set), and the relationship ``expand`` names (see ``_expand``)."""
        out = dict(prefix or {})
        for name in (select or state_module.USER_DEFAULT_SELECT):
            out[name] = self.user_value(data, name)
        if expand is not None and expand[0] == "manager":
            manager = None
            manager_id = data.get("_managerId")
            if manager_id:
                try:
                    manager = self.tenant.get_user(manager_id)
                except GraphError:
                    manager = None
            out["manager"] = self.project_user(manager, expand[1], prefix={"@odata.type": USER_TYPE}) if manager else None
        elif expand is not None:
            extensions = [state_module.extension_view(item) for item in data.get("_extensions") or []]
            if expand[1] is not None:
                extensions = [item for item in extensions if state_module.extension_matches(item["extensionName"], expand[1])]
            out["extensions"] = extensions
        return out

    def _user_entity(self, data, select=None, context="users", expand=None, first_id=False):
        body = {"@odata.context": "%s%s%s/$entity" % (METADATA, context, _context_select(select))}
        if first_id and not select:
            body["id"] = data["id"]
        body.update(self.project_user(data, select, expand))
        return body

    def _user_collection(self, call, items, context, default_select=None):
        options = call.options()
        for name in options:
            if name not in ("$select", "$filter", "$top", "$orderby", "$count", "$search", "$expand", "$skiptoken"):
                raise bad_request("'%s' is not supported by the service." % name)
        eventual, advanced = self._advanced(call)
        select = self._user_select(call, collection=True)
        expand = self._expand(call)
        node = self._filter(options.get("$filter"), "user", advanced)
        search = self._search(call, eventual)
        order = self._orderby(call, advanced, node is not None)
        top = self._top(call) or 100
        offset = self._skip(call)
        if node is not None:
            items = [item for item in items if self._matches(node, item)]
        if search is not None:
            items = [item for item in items if self._search_match(search, item)]
        if order is not None:
            name, descending = order
            present = [item for item in items if item.get(name) is not None]
            missing = [item for item in items if item.get(name) is None]
            present.sort(key=lambda item: str(item.get(name)).lower(), reverse=descending)
            items = (missing + present) if not descending else (present + missing)
        body = {"@odata.context": "%s%s%s" % (METADATA, context, _context_select(select))}
        if advanced and offset == 0:
            body["@odata.count"] = len(items)
        page = items[offset:offset + top]
        if offset + top < len(items):
            body["@odata.nextLink"] = self._next_link(call, offset + top)
        body["value"] = [self.project_user(item, select or default_select, expand) for item in page]
        return Result(200, body)

    def _count(self, call, items):
        eventual, _ = self._advanced(call)
        if not eventual:
            raise bad_request("$count is not currently supported.")
        options = call.options()
        node = self._filter(options.get("$filter"), "user", True)
        search = self._search(call, eventual)
        if node is not None:
            items = [item for item in items if self._matches(node, item)]
        if search is not None:
            items = [item for item in items if self._search_match(search, item)]
        return Result(200, str(len(items)))

    # ----------------------------------------------------------------------------------------------------------
    # Users

    def list_users(self, call):
        return self._user_collection(call, self.tenant.list_users(), "users")

    def count_users(self, call):
        return self._count(call, self.tenant.list_users())

    def create_user(self, call):
        data = self.tenant.create_user(call.json())
        body = self._user_entity(data, first_id=True)
        location = "%s/v2/%s/directoryObjects/%s/Microsoft.DirectoryServices.User" % (call.base_url, self.tenant.tenant_id, data["id"])
        return Result(201, body, {"Location": location})

    def get_user(self, call, key):
        select = self._user_select(call, collection=False)
        expand = self._expand(call)
        return Result(200, self._user_entity(self.tenant.get_user(key), select, expand=expand))

    def update_user(self, call, key):
        body = call.json()
        if isinstance(body, dict):
            self.tenant.check_sensitive_action(key, call.app_id, properties=list(body))  # users holding admin roles
        self.tenant.update_user(key, body)
        return Result(204)

    def delete_user(self, call, key):
        self.tenant.check_sensitive_action(key, call.app_id)  # users holding admin roles
        self.tenant.delete_user(key)
        return Result(204)

    def get_manager(self, call, key):
        select = self._user_select(call, collection=False)
        manager = self.tenant.get_manager(key)
        body = {"@odata.context": METADATA + "directoryObjects%s/$entity" % _context_select(select), "@odata.type": USER_TYPE}
        body.update(self.project_user(manager, select))
        return Result(200, body)

    def set_manager(self, call, key):
        body = call.json()
        reference = body.get("@odata.id") if isinstance(body, dict) else None
        if not isinstance(reference, str) or not reference.strip():
            # UNCONFIRMED wording.
            raise bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")
        path = urlsplit(reference).path.rstrip("/")
        match = re.search(r"/(?:users|directoryObjects)/([^/]+)$", path, re.IGNORECASE) or re.search(r"\(\s*'?([^')]+)'?\s*\)$", path)
        if not match:
            raise bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")
        self.tenant.set_manager(key, unquote_plus(match.group(1)))
        return Result(204)

    def remove_manager(self, call, key):
        self.tenant.remove_manager(key)
        return Result(204)

    # Open extensions (openTypeExtension on users)

    @staticmethod
    def _extension_context(data):
        return "%susers('%s')/extensions" % (METADATA, data["id"])

    def list_extensions(self, call, key):
        self._only_options(call, ())
        data = self.tenant.get_user(key)
        return Result(200, {"@odata.context": self._extension_context(data), "value": self.tenant.list_extensions(key)})

    def get_extension(self, call, key, extension_id):
        self._only_options(call, ())
        data = self.tenant.get_user(key)
        body = {"@odata.context": self._extension_context(data) + "/$entity"}
        body.update(self.tenant.get_extension(key, extension_id))
        return Result(200, body)

    def create_extension(self, call, key):
        """201 with the extension; its id is its name (extensibility-open-users)."""
        data = self.tenant.get_user(key)
        body = {"@odata.context": self._extension_context(data) + "/$entity"}
        body.update(self.tenant.create_extension(key, call.json(), app_id=call.app_id))
        return Result(201, body)

    def update_extension(self, call, key, extension_id):
        """204 on a user (extensibility-open-users; the generic update docs' 200 with a body is for Outlook items)."""
        self.tenant.update_extension(key, extension_id, call.json())
        return Result(204)

    def delete_extension(self, call, key, extension_id):
        self.tenant.delete_extension(key, extension_id)
        return Result(204)

    def assign_license(self, call, key):
        body = call.json()
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        data = self.tenant.assign_license(key, body.get("addLicenses", []) or [], body.get("removeLicenses", []) or [])
        return Result(200, self._user_entity(data))

    def revoke_sign_in_sessions(self, call, key):
        """user-revokesigninsessions docs: no body needed; 200 with an Edm.Boolean."""
        self.tenant.revoke_sign_in_sessions(key)
        return Result(200, {"@odata.context": METADATA + "Edm.Boolean", "value": True})

    def send_mail(self, call, key):
        """user-sendmail docs: 202 Accepted, no body. The message is kept in the tenant's outbox (mail.py)."""
        mail.send_mail(self.tenant, key, call.json(), app_id=call.app_id)
        return Result(202)

    # ----------------------------------------------------------------------------------------------------------
    # Deleted items

    def _deleted_default(self):
        # UNCONFIRMED: the default property set of deleted users; the user default set plus deletedDateTime.
        return list(state_module.USER_DEFAULT_SELECT) + ["deletedDateTime"]

    def list_deleted(self, call):
        return self._user_collection(call, self.tenant.list_deleted_users(), "users", default_select=self._deleted_default())

    def count_deleted(self, call):
        return self._count(call, self.tenant.list_deleted_users())

    def get_deleted(self, call, object_id):
        select = self._user_select(call, collection=False)
        data = self.tenant.get_deleted(object_id)
        body = {"@odata.context": METADATA + "directory/deletedItems%s/$entity" % _context_select(select),
                "@odata.type": USER_TYPE}
        body.update(self.project_user(data, select or self._deleted_default()))
        return Result(200, body)

    def restore_deleted(self, call, object_id):
        data = self.tenant.restore_deleted(object_id)
        body = {"@odata.context": METADATA + "directoryObjects/$entity", "@odata.type": USER_TYPE}
        body.update(self.project_user(data, None))
        return Result(200, body)

    def purge_deleted(self, call, object_id):
        self.tenant.purge_deleted(object_id)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # Licences and domains

    def list_skus(self, call):
        options = call.options()
        if "$filter" in options:
            # UNCONFIRMED wording: the query-option validator of an ASP.NET OData service.
            raise bad_request("The query specified in the URI is not valid. Query option 'Filter' is not allowed. To allow it, set the "
                              "'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.", code="BadRequest")
        select = self._select(options.get("$select"), state_module.SKU_PROPERTIES, "microsoft.graph.subscribedSku", collection=True)
        skus = self.tenant.list_skus()
        value = [{name: sku[name] for name in select} if select else sku for sku in skus]
        return Result(200, {"@odata.context": "%ssubscribedSkus%s" % (METADATA, _context_select(select)), "value": value})

    def list_domains(self, call):
        options = call.options()
        select = self._select(options.get("$select"), state_module.DOMAIN_PROPERTIES, "microsoft.graph.domain", collection=True)
        domains = self.tenant.list_domains()
        node = self._filter(options.get("$filter"), "domain", False)
        if node is not None:
            domains = [domain for domain in domains if self._matches(node, domain)]
        value = [{name: domain[name] for name in select} if select else domain for domain in domains]
        return Result(200, {"@odata.context": "%sdomains%s" % (METADATA, _context_select(select)), "value": value})

    def get_domain(self, call, name):
        select = self._select(call.options().get("$select"), state_module.DOMAIN_PROPERTIES, "microsoft.graph.domain", collection=False)
        domain = self.tenant.get_domain(name)
        body = {"@odata.context": "%sdomains%s/$entity" % (METADATA, _context_select(select))}
        body.update({key: domain[key] for key in select} if select else domain)
        return Result(200, body)

    # ----------------------------------------------------------------------------------------------------------
    # Directory roles (roleManagement/directory: rbacapplication and unifiedRoleAssignment docs)

    def _role_options(self, call, allowed):
        for name in call.options():
            if name not in allowed:
                # UNCONFIRMED wording; also what the sandbox answers for options it does not emulate here.
                raise bad_request("'%s' is not supported by the service." % name)

    def list_role_definitions(self, call):
        self._role_options(call, ("$select",))
        select = self._select(call.options().get("$select"), state_module.ROLE_DEFINITION_PROPERTIES, "microsoft.graph.unifiedRoleDefinition")
        value = [{name: item[name] for name in select} if select else item for item in self.tenant.list_role_definitions()]
        return Result(200, {"@odata.context": "%sroleManagement/directory/roleDefinitions%s" % (METADATA, _context_select(select)),
                            "value": value})

    def get_role_definition(self, call, key):
        self._role_options(call, ("$select",))
        select = self._select(call.options().get("$select"), state_module.ROLE_DEFINITION_PROPERTIES, "microsoft.graph.unifiedRoleDefinition",
                              collection=False)
        item = self.tenant.get_role_definition(key)
        body = {"@odata.context": "%sroleManagement/directory/roleDefinitions%s/$entity" % (METADATA, _context_select(select))}
        body.update({name: item[name] for name in select} if select else item)
        return Result(200, body)

    @staticmethod
    def _role_assignment_view(assignment, select=None):
        # Key order of the list docs' example.
        full = {"id": assignment["id"], "principalId": assignment["principalId"], "resourceScope": assignment["directoryScopeId"],
                "directoryScopeId": assignment["directoryScopeId"], "roleDefinitionId": assignment["roleDefinitionId"]}
        return {name: full[name] for name in select} if select else full

    def list_role_assignments(self, call):
        self._role_options(call, ("$select", "$filter"))
        options = call.options()
        select = self._select(options.get("$select"), state_module.ROLE_ASSIGNMENT_PROPERTIES, "microsoft.graph.unifiedRoleAssignment")
        node = self._filter(options.get("$filter"), "roleAssignment", False)
        items = self.tenant.list_role_assignments()
        if node is not None:
            items = [item for item in items if self._matches(node, item)]
        return Result(200, {"@odata.context": "%sroleManagement/directory/roleAssignments%s" % (METADATA, _context_select(select)),
                            "value": [self._role_assignment_view(item, select) for item in items]})

    def get_role_assignment(self, call, assignment_id):
        self._role_options(call, ("$select",))
        select = self._select(call.options().get("$select"), state_module.ROLE_ASSIGNMENT_PROPERTIES, "microsoft.graph.unifiedRoleAssignment",
                              collection=False)
        body = {"@odata.context": "%sroleManagement/directory/roleAssignments%s/$entity" % (METADATA, _context_select(select))}
        body.update(self._role_assignment_view(self.tenant.get_role_assignment(assignment_id), select))
        return Result(200, body)

    def create_role_assignment(self, call):
        body = call.json()
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in ("principalId", "roleDefinitionId", "directoryScopeId", "appScopeId"):
                raise bad_request("The property '%s' does not exist on type 'microsoft.graph.unifiedRoleAssignment'. Make sure to only use "
                                  "property names that are defined by the type or mark the type as open type." % name, code="BadRequest")
            if value is not None and not isinstance(value, str):
                raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.String'." % value, code="BadRequest")
        # UNCONFIRMED wording. Only the tenant-wide scope "/" is emulated (no administrative units, no app scopes).
        if body.get("appScopeId"):
            raise state_module.invalid_property("appScopeId", "UnifiedRoleAssignment")
        for name in ("principalId", "roleDefinitionId", "directoryScopeId"):
            if not body.get(name) or (name == "directoryScopeId" and body[name] != "/"):
                raise state_module.invalid_property(name, "UnifiedRoleAssignment")
        assignment = self.tenant.create_role_assignment(body["principalId"], body["roleDefinitionId"], body["directoryScopeId"])
        entity = {"@odata.context": METADATA + "roleManagement/directory/roleAssignments/$entity", "id": assignment["id"],
                  "roleDefinitionId": assignment["roleDefinitionId"], "principalId": assignment["principalId"],
                  "directoryScopeId": assignment["directoryScopeId"]}
        return Result(201, entity)

    def delete_role_assignment(self, call, assignment_id):
        self.tenant.delete_role_assignment(assignment_id)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # Groups and membership (group-list, group-get, group-list-members, group-list-transitivemembers, group-post-members,
    # group-delete-members, user-list-memberof; reference 6)

    def _page(self, call, items, advanced):
        """(page, extra body keys) for a collection: $top (default 100, at most 999), $skiptoken, @odata.count, nextLink."""
        top = self._top(call) or 100
        offset = self._skip(call)
        extra = {}
        if advanced and offset == 0:
            extra["@odata.count"] = len(items)
        if offset + top < len(items):
            extra["@odata.nextLink"] = self._next_link(call, offset + top)
        return items[offset:offset + top], extra

    @staticmethod
    def _only_options(call, allowed):
        for name in call.options():
            if name not in allowed:
                # UNCONFIRMED wording; also what the sandbox answers for options it does not emulate on these routes.
                raise bad_request("'%s' is not supported by the service." % name)

    @staticmethod
    def project_group(data, select=None):
        out = {}
        for name in select or state_module.GROUP_DEFAULT_SELECT:
            value = data.get(name)
            if value is None and name in ("groupTypes", "proxyAddresses"):
                value = []
            out[name] = json.loads(json.dumps(value))
        return out

    def _group_select(self, call, collection=True):
        return self._select(call.options().get("$select"), state_module.GROUP_PROPERTIES, "microsoft.graph.group", collection=collection)

    def list_groups(self, call):
        self._only_options(call, ("$select", "$filter", "$top", "$count", "$skiptoken"))
        options = call.options()
        _, advanced = self._advanced(call)
        select = self._group_select(call)
        node = self._filter(options.get("$filter"), "group", advanced)
        items = self.tenant.list_groups()
        if node is not None:
            items = [item for item in items if self._matches(node, item)]
        page, extra = self._page(call, items, advanced)
        body = {"@odata.context": "%sgroups%s" % (METADATA, _context_select(select))}
        body.update(extra)
        body["value"] = [self.project_group(item, select) for item in page]
        return Result(200, body)

    def get_group(self, call, key):
        self._only_options(call, ("$select",))
        select = self._group_select(call, collection=False)
        body = {"@odata.context": "%sgroups%s/$entity" % (METADATA, _context_select(select))}
        body.update(self.project_group(self.tenant.get_group(key), select))
        return Result(200, body)

    def _object_view(self, call, entity, data, select):
        """A directory object in a relationship list: @odata.type, then its properties (those of ``select`` its type has).
        Without a permission to read objects of its type, Graph returns the type and id only, other properties null."""
        if entity == "user":
            names = ([n for n in select if n in state_module.USER_SCHEMA or n in state_module.USER_UNMODELLED] or ["id"]) if select else None
            body = self.project_user(data, names)
            visible = auth.has_any_role(call.claims, SEE_USERS)
        elif entity == "group":
            names = ([n for n in select if n in state_module.GROUP_PROPERTIES] or ["id"]) if select else None
            body = self.project_group(data, names)
            visible = auth.has_any_role(call.claims, SEE_GROUPS)
        else:
            names = ([n for n in select if n in DIRECTORY_ROLE_PROPERTIES] or ["id"]) if select else DIRECTORY_ROLE_PROPERTIES
            body = {name: data.get(name) for name in names}
            visible = auth.has_any_role(call.claims, READ_ROLE_MANAGEMENT)
        if not visible:
            body = {name: (data.get("id") if name == "id" else None) for name in body}
            body["id"] = data.get("id")
        out = {"@odata.type": OBJECT_TYPES[entity]}
        out.update(body)
        return out

    def _relationship(self, call, objects, cast=None, transitive=False):
        """A directoryObject collection (members, transitiveMembers, memberOf), optionally cast to one type."""
        self._only_options(call, ("$select", "$filter", "$top", "$count", "$skiptoken"))
        options = call.options()
        _, advanced = self._advanced(call)
        if not advanced and ((cast and transitive) or "$filter" in options):
            # Reference 1.2 and 6.3: $filter on these lists, and OData casts on transitive lists, are advanced queries.
            raise GraphError(400, "Request_UnsupportedQuery", ADVANCED_RELATIONSHIP_MESSAGE)
        if cast:
            objects = [(entity, data) for entity, data in objects if entity == cast]
        if cast == "user":
            properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
            select = self._select(options.get("$select"), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY)
        elif cast == "group":
            select = self._group_select(call)
        else:
            properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED) + list(state_module.GROUP_PROPERTIES)
            properties += [name for name in DIRECTORY_ROLE_PROPERTIES if name not in properties]
            select = self._select(options.get("$select"), properties, "microsoft.graph.directoryObject", state_module.USER_SINGLE_ONLY)
        text = options.get("$filter")
        if text is not None:
            try:
                node = self._filter(text, cast or "user", True)
            except GraphError:
                if cast:
                    raise
                node = self._filter(text, "group", True)
            objects = [(entity, data) for entity, data in objects if self._matches(node, data)]
        page, extra = self._page(call, objects, advanced)
        context = {"user": "users", "group": "groups"}.get(cast, "directoryObjects")
        body = {"@odata.context": "%s%s%s" % (METADATA, context, _context_select(select))}
        body.update(extra)
        body["value"] = [self._object_view(call, entity, data, select) for entity, data in page]
        return Result(200, body)

    def list_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key))

    def list_user_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key), cast="user")

    def list_group_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key), cast="group")

    def list_transitive_members(self, call, key):
        return self._relationship(call, self.tenant.transitive_members(key), transitive=True)

    def list_transitive_user_members(self, call, key):
        return self._relationship(call, self.tenant.transitive_members(key), cast="user", transitive=True)

    def list_member_of(self, call, key):
        return self._relationship(call, self.tenant.member_of(key))

    def add_member(self, call, key):
        """group-post-members: {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{id}"}; 204."""
        body = call.json()
        reference = body.get("@odata.id") if isinstance(body, dict) else None
        invalid = bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")  # UNCONFIRMED wording
        if not isinstance(reference, str) or not reference.strip():
            raise invalid
        match = re.search(r"/(?:directoryObjects|users|groups)/([^/?]+)$", urlsplit(reference.strip()).path.rstrip("/"), re.IGNORECASE)
        if not match:
            raise invalid
        self.tenant.add_group_member(key, unquote_plus(match.group(1)))
        return Result(204)

    def remove_member(self, call, key, member_id):
        """group-delete-members: DELETE /groups/{id}/members/{id}/$ref; 204."""
        self.tenant.remove_group_member(key, member_id)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # $batch (Graph's json-batching docs)

    def batch(self, call):
        body = call.json()
        invalid = GraphError(400, "BadRequest", "Invalid batch payload format.")
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise invalid
        requests = body["requests"]
        if len(requests) > 20:
            # UNCONFIRMED wording (only the limit of 20 is documented).
            raise bad_request("The batch request must not contain more than 20 requests.")
        seen = {}
        for item in requests:
            if not isinstance(item, dict) or not all(isinstance(item.get(name), str) and item.get(name) for name in ("id", "method", "url")):
                raise invalid
            lowered = item["id"].lower()
            if lowered in seen:
                # UNCONFIRMED wording.
                raise GraphError(400, "BadRequest", "Batch request contains duplicate request ids: '%s'." % item["id"])
            seen[lowered] = item
            headers = item.get("headers") or {}
            if not isinstance(headers, dict):
                raise invalid
            if "body" in item and item["body"] is not None and not any(key.lower() == "content-type" for key in headers):
                raise GraphError(400, "BadRequest", "Write request id : %s does not contain Content-Type header or body." % item["id"])
            depends = item.get("dependsOn") or []
            if not isinstance(depends, list) or not all(isinstance(dep, str) for dep in depends):
                raise invalid
        for item in requests:
            for dep in item.get("dependsOn") or []:
                if dep.lower() not in seen:
                    # UNCONFIRMED wording.
                    raise GraphError(400, "BadRequest", "Request '%s' depends on request '%s', which is not in the batch." % (item["id"], dep))
        order = self._batch_order(requests)
        statuses = {}
        responses = []
        for item in order:
            failed = [dep for dep in item.get("dependsOn") or [] if statuses.get(dep.lower(), 0) >= 400]
            if failed:
                result = self._failed_dependency(call, item, failed[0])
            else:
                result = self._batch_item(call, item)
            statuses[item["id"].lower()] = result.status
            responses.append(self._batch_response(item["id"], result))
        self.tenant.rng.shuffle(responses)
        return Result(200, {"responses": responses})

    def _failed_dependency(self, call, item, failed):
        """424 for a request whose dependency failed; it never runs, but is logged like every batch item."""
        parsed = urlsplit(item["url"].strip())
        sub = Call(item["method"], parsed.path.lstrip("/"), parsed.query, item.get("headers") or {}, b"", call.base_url, call.claims,
                   batch=call.log_seq)
        self.tenant.log_request("graph", sub.method, "/v1.0" + sub.path, sub.raw_query, 424, app_id=sub.app_id, write=sub.is_write,
                                batch=call.log_seq, body_keys=list(item["body"]) if isinstance(item.get("body"), dict) else [])
        # UNCONFIRMED: the body Graph gives a dependant of a failed request.
        return Result(424, error_body("FailedDependency", "The request could not be performed because it depends on request %s that failed."
                                      % failed, sub.request_id, sub.client_request_id))

    @staticmethod
    def _batch_order(requests):
        """Requests in an order that runs dependencies first (stable otherwise); 400 on a cycle."""
        by_id = {item["id"].lower(): item for item in requests}
        done, order, visiting = set(), [], set()

        def visit(item):
            key = item["id"].lower()
            if key in done:
                return
            if key in visiting:
                raise GraphError(400, "BadRequest", "The dependsOn of the batch requests form a cycle.")  # UNCONFIRMED wording
            visiting.add(key)
            for dep in item.get("dependsOn") or []:
                visit(by_id[dep.lower()])
            visiting.discard(key)
            done.add(key)
            order.append(item)

        for item in requests:
            visit(item)
        return order

    def _batch_item(self, call, item):
        url = item["url"].strip()
        headers = {key: str(value) for key, value in (item.get("headers") or {}).items()}
        body = item.get("body")
        if body is None:
            raw = b""
        elif isinstance(body, (dict, list)):
            raw = json.dumps(body).encode("utf-8")
        else:
            try:
                raw = base64.b64decode(body) if not str(body).lstrip().startswith(("{", "[")) else str(body).encode("utf-8")
            except ValueError:
                raw = str(body).encode("utf-8")
        parsed = urlsplit(url)
        parent = call.log_seq
        if parsed.scheme or parsed.netloc:
            sub = Call(item["method"], "/", "", headers, raw, call.base_url, call.claims, batch=parent)
            return _error_result(sub, GraphError(400, "BadRequest", "Invalid request URI: %s" % url))  # UNCONFIRMED wording
        path = parsed.path.lstrip("/")
        if path.lower().startswith("v1.0/"):
            path = path[len("v1.0/"):]
        sub = Call(item["method"], path, parsed.query, headers, raw, call.base_url, call.claims, batch=parent)
        if sub.path.lower() == "/$batch":
            return _error_result(sub, GraphError(400, "BadRequest", "Nested batch requests are not supported."))  # UNCONFIRMED wording
        return self.execute(sub)

    @staticmethod
    def _batch_response(item_id, result):
        headers = {"Cache-Control": "no-cache"}
        if isinstance(result.body, (dict, list)):
            headers["OData-Version"] = "4.0"
            headers["Content-Type"] = JSON_TYPE
        elif isinstance(result.body, str):
            headers["Content-Type"] = "text/plain"
        headers.update(result.headers)
        out = {"id": item_id, "status": result.status, "headers": headers}
        if result.body is not None:
            out["body"] = result.body
        return out
