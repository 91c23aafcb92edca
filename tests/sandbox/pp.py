"""The Practice Protect API (Centrify / Idaptive / CyberArk Identity REST) on its own port.

Protocol (reference/practice_protect.md sections 1 and 2): OAuth2 client credentials at ``POST /oauth2/token/{appId}``
with HTTP Basic ``client_id:client_secret`` and a form body; every API call is a ``POST`` with a JSON body (some
callers put parameters in the query string) answered with the envelope ``{success, Result, Message, ErrorID, ...}``;
business errors are HTTP 200 with ``success: false``. Paths are matched case-insensitively (``/Redrock/query``,
``/RedRock/Query`` ...). ``/vfslow/lib/api/swagger.json`` needs no token and describes the endpoints served here.

Each endpoint needs an admin right of the caller (the confidential client's service user, through its roles):
``ENDPOINTS`` maps the path to its handler, the right (None: any admin right, i.e. a read) and whether it writes.
Every call is logged as service ``pp`` with ``write`` true for the mutating endpoints.
"""

import asyncio
import base64
import json
import logging
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from .pp_state import (ALL_RIGHTS, APPLICATION_MANAGEMENT, PP_TENANT_ID, ROLE_MANAGEMENT, USER_MANAGEMENT, PPError, PPTenant,
                       envelope)
from . import secret_log
from .realism import token_refused

LOG = logging.getLogger("tests.sandbox.pp")

# canonical path -> (handler, right needed (None: any admin right), writes)
ENDPOINTS = {
    "/Security/Whoami": ("whoami", None, False),
    "/Core/GetDirectoryServices": ("directory_services", None, False),
    "/Core/GetCdsAliasesForTenant": ("cds_aliases", None, False),
    "/UserMgmt/DirectoryServiceQuery": ("directory_query", None, False),
    "/UserMgmt/InviteUsers": ("invite_users", USER_MANAGEMENT, True),
    "/CDirectoryService/CreateUser": ("create_user", USER_MANAGEMENT, True),
    "/CDirectoryService/ChangeUser": ("change_user", USER_MANAGEMENT, True),
    "/CDirectoryService/SetUserState": ("set_user_state", USER_MANAGEMENT, True),
    "/UserMgmt/ResetUserPassword": ("reset_password", USER_MANAGEMENT, True),
    "/UserMgmt/GetUserAttributes": ("user_attributes", None, False),
    "/UserMgmt/RemoveUsers": ("remove_users", USER_MANAGEMENT, True),
    "/UserMgmt/GetUsersRolesAndAdministrativeRights": ("user_roles", None, False),
    "/ExtData/GetSchema": ("get_schema", None, False),
    "/ExtData/UpdateSchema": ("update_schema", USER_MANAGEMENT, True),
    "/ExtData/GetColumns": ("get_columns", None, False),
    "/ExtData/SetColumns": ("set_columns", USER_MANAGEMENT, True),
    "/Roles/GetRoleMembers": ("role_members", None, False),
    "/SaasManage/GetRoleMembers": ("role_members", None, False),
    "/Roles/GetRole": ("get_role", None, False),
    "/SaasManage/GetRole": ("get_role", None, False),
    "/Roles/UpdateRole": ("update_role", ROLE_MANAGEMENT, True),
    "/SaasManage/AddUsersAndGroupsToRole": ("add_to_role", ROLE_MANAGEMENT, True),
    "/SaasManage/RemoveUsersAndGroupsFromRole": ("remove_from_role", ROLE_MANAGEMENT, True),
    "/Redrock/query": ("redrock", None, False),
    # UNCONFIRMED: the project's own contract for the provisioning job (reference section 11), not the vendor's paths, which
    # no public source shows. Absent under the real_tenant_variants profile and with the pp_job_api knob false.
    "/Provisioning/StartSync": ("start_sync", APPLICATION_MANAGEMENT, True),
    "/Provisioning/GetJobStatus": ("job_status", None, False),
    "/Provisioning/GetJobHistory": ("job_history", None, False),
}
BY_LOWER = {path.lower(): path for path in ENDPOINTS}
# The project's own job contract (reference section 11): a tenant under the real-tenant variants profile has none of it.
JOB_API = frozenset(path for path in ENDPOINTS if path.startswith("/Provisioning/"))
SWAGGER_PATH = "/vfslow/lib/api/swagger.json"
# UNCONFIRMED: wording of the authorisation failures.
NOT_AUTHORISED = "You are not authorized to perform this operation. The caller needs the %s admin right."
UNAUTHENTICATED = "Authentication is required: send a valid bearer token from /oauth2/token/{appId}."


def _json(body, status=200):
    return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "no-cache, no-store"})


class PPApp:
    """The Practice Protect service on a runtime; the tenant is ``runtime.pp`` (created here when absent)."""

    def __init__(self, runtime):
        self.rt = runtime
        if getattr(runtime, "pp", None) is None:
            runtime.pp = PPTenant(runtime.tenant)
        self.timer = None
        self.app = Starlette(routes=[
            Route("/oauth2/token/{app_id}", self.token, methods=["POST"]),
            Route("/{path:path}", self.api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    @property
    def pp(self):
        return self.rt.pp

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    def _log(self, request, path, status, client_id=None, write=False, body_keys=None):
        self.rt.tenant.log_request("pp", request.method, path, request.url.query, status, app_id=client_id, write=write,
                                   body_keys=body_keys)

    # ------------------------------------------------------------------------------------------------------------
    # Token

    async def token(self, request):
        app_id = request.path_params["app_id"]
        raw = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(raw))
        client_id, secret = _basic(request.headers.get("authorization"))
        if client_id is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if form.get("grant_type") != "client_credentials":
            status, body = 400, {"error": "unsupported_grant_type", "error_description": "Only grant_type client_credentials is supported."}
        else:
            status, body = self.pp.issue_token(app_id, client_id, secret, form.get("scope"))
            if status == 200:  # when it was issued, for the token_valid_s knob
                self.pp.tokens[body["access_token"]]["issued"] = self.pp.clock()
        self._log(request, request.url.path, status, client_id=client_id if status == 200 else None, body_keys=sorted(form))
        return _json(body, status)

    # ------------------------------------------------------------------------------------------------------------
    # API

    async def api(self, request):
        path = "/" + request.path_params["path"]
        if path.lower() == SWAGGER_PATH:
            self._log(request, path, 200)
            return _json(swagger(request, hidden=() if self.pp.job_api() else JOB_API))
        canonical = BY_LOWER.get(path.rstrip("/").lower())
        if canonical in JOB_API and not self.pp.job_api():
            canonical = None  # a tenant without this project's job API (real-tenant variants, pp_job_api false; reference section 8)
        if canonical is None:
            self._log(request, path, 404)
            # UNCONFIRMED: the answer for an unknown path.
            return _json(envelope(error=PPError("The API %s does not exist." % path, "NotFound")), 404)
        handler, right, writes = ENDPOINTS[canonical]
        raw = await request.body()
        body_keys = []
        if request.method != "POST":
            self._log(request, path, 405, write=writes)
            return _json(envelope(error=PPError("Use POST for %s." % canonical, "MethodNotAllowed")), 405)
        token = _bearer(request.headers.get("authorization"))
        client_id = self.pp.caller(token)
        if client_id is not None and token_refused(self.pp.tokens[token].get("issued", 0), self.pp.clock(), self.pp.graph.config):
            client_id = None  # past its real validity (token_valid_s): refused as an unknown token is
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError
            body_keys = sorted(body)
            secret_log.record_passwords(body, "pp " + canonical)  # Password, newPassword, confirmPassword
        except ValueError:
            self._log(request, path, 400, client_id=client_id, write=writes)
            return _json(envelope(error=PPError("The request body is not a JSON object.", "InvalidJson")), 400)
        if client_id is None:
            self._log(request, path, 401, write=writes, body_keys=body_keys)
            return _json(envelope(error=PPError(UNAUTHENTICATED, "Unauthenticated")), 401)
        query = dict((k, unquote(v)) for k, v in parse_qsl(request.url.query))
        rights = self.pp.rights_of(client_id)
        try:
            if right is None and not rights & set(ALL_RIGHTS):
                raise PPError(NOT_AUTHORISED % "Read Only System Administration", "Unauthorized")
            if right is not None and right not in rights:
                raise PPError(NOT_AUTHORISED % right, "Unauthorized")
            self.pp.engine.advance()
            result = getattr(self, "do_" + handler)(body, query, client_id)
            answer = envelope(result)
        except PPError as exc:
            answer = envelope(error=exc)
        except Exception:  # a sandbox bug: answer like a server error and keep serving
            LOG.exception("unhandled error in %s", path)
            self._log(request, path, 500, client_id=client_id, write=writes, body_keys=body_keys)
            return _json(envelope(error=PPError("An unexpected error occurred in the sandbox.", "InternalError")), 500)
        self._log(request, path, 200, client_id=client_id, write=writes, body_keys=body_keys)
        self._arm()
        return _json(answer)

    def _arm(self):
        """Wake up when the next job is due, so its effects reach the Graph tenant even if nobody polls."""
        due = self.pp.engine.next_due()
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer = loop.call_later(max(0.0, due - self.pp.clock()) + 0.01, self._tick)

    def _tick(self):
        self.timer = None
        try:
            self.pp.engine.advance()
        except Exception:  # pragma: no cover - logged, the next request retries
            LOG.exception("provisioning engine failed")
        self._arm()

    # ------------------------------------------------------------------------------------------------------------
    # Handlers: (body, query, client_id) -> Result

    def do_whoami(self, body, query, client_id):
        client = self.pp.clients[client_id]
        return {"TenantId": PP_TENANT_ID, "User": client_id, "UserUuid": client["user_id"]}

    def do_directory_services(self, body, query, client_id):
        rows = self.pp.directories()
        return {"Results": [{"Entities": [], "Row": row} for row in rows], "Count": len(rows)}

    def do_cds_aliases(self, body, query, client_id):
        return self.pp.cds_aliases()

    def do_directory_query(self, body, query, client_id):
        return self.pp.directory_query(body)

    def do_invite_users(self, body, query, client_id):
        return self.pp.invite_users(body)

    def do_create_user(self, body, query, client_id):
        return self.pp.create_user(body)

    def do_change_user(self, body, query, client_id):
        return self.pp.change_user(body)

    def do_set_user_state(self, body, query, client_id):
        return self.pp.set_user_state(body)

    def do_reset_password(self, body, query, client_id):
        return self.pp.reset_password(body)

    def do_user_attributes(self, body, query, client_id):
        return self.pp.user_attributes(dict(body, ID=body.get("ID") or query.get("ID") or query.get("id")))

    def do_remove_users(self, body, query, client_id):
        return self.pp.remove_users(body)

    def do_user_roles(self, body, query, client_id):
        user_id = query.get("id") or query.get("ID") or body.get("ID") or body.get("id")
        if not user_id and body.get("username"):
            user = self.pp.user_by_name(body["username"])
            user_id = user["ID"] if user else body["username"]
        return self.pp.user_roles(user_id)

    def do_get_schema(self, body, query, client_id):
        return self.pp.schema(body)

    def do_update_schema(self, body, query, client_id):
        return self.pp.update_schema(body)

    def do_get_columns(self, body, query, client_id):
        return self.pp.get_columns(body)

    def do_set_columns(self, body, query, client_id):
        return self.pp.set_columns(body)

    def do_role_members(self, body, query, client_id):
        return self.pp.role_members(body.get("Name") or body.get("name") or query.get("name") or query.get("Name"))

    def do_get_role(self, body, query, client_id):
        return self.pp.get_role(body.get("name") or body.get("Name") or query.get("name"))

    def do_update_role(self, body, query, client_id):
        return self.pp.update_role(body)

    def do_add_to_role(self, body, query, client_id):
        return self.pp.add_to_role(body)

    def do_remove_from_role(self, body, query, client_id):
        return self.pp.remove_from_role(body)

    def do_redrock(self, body, query, client_id):
        return self.pp.redrock(body)

    def do_start_sync(self, body, query, client_id):
        return self.pp.engine.start(body)

    def do_job_status(self, body, query, client_id):
        return self.pp.engine.status(body)

    def do_job_history(self, body, query, client_id):
        return self.pp.engine.history(body)


def _bearer(authorization):
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _basic(authorization):
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None, None
    try:
        decoded = base64.b64decode(value.strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)


def swagger(request, hidden=()):
    """A Swagger 2.0 description of the endpoints this sandbox serves (the tenant's own API description), without ``hidden``."""
    paths = {}
    for path, (handler, right, writes) in sorted(ENDPOINTS.items()):
        if path in hidden:
            continue
        tag = path.strip("/").split("/")[0]
        paths[path] = {"post": {"tags": [tag], "operationId": "%s_%s" % (tag, path.rsplit("/", 1)[-1]),
                                "summary": "%s (%s)" % (path.rsplit("/", 1)[-1], "writes" if writes else "reads"),
                                "parameters": [{"in": "body", "name": "body", "schema": {"type": "object"}}],
                                "responses": {"200": {"description": "The envelope {success, Result, Message, ErrorID}."}}}}
    return {"swagger": "2.0", "info": {"title": "Practice Protect (sandbox)", "version": "sandbox"},
            "host": request.headers.get("host"), "schemes": ["https"], "consumes": ["application/json"],
            "produces": ["application/json"], "paths": paths}
