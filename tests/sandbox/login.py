"""The login service (Microsoft identity platform v2.0 endpoints for the client credentials flow).

msal 1.39 with ``instance_discovery=False`` first reads ``{authority}/v2.0/.well-known/openid-configuration``,
then posts to its ``token_endpoint`` (msal's authority.py and application.py). Errors use AAD's body: ``{error, error_description,
error_codes, timestamp, trace_id, correlation_id, error_uri}``.
"""

import datetime
import json
import uuid
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from . import auth

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_ALIASES = ("https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000")
EXCHANGE_ALIASES = ("https://outlook.office365.com", "https://outlook.office365.com/", "https://outlook.office.com",
                    "00000002-0000-0ff1-ce00-000000000000")


def _json(body, status=200, headers=None):
    base = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "x-ms-ests-server": "2.1.sandbox"}
    base.update(headers or {})
    base = {key: value for key, value in base.items() if value is not None}
    return Response(json.dumps(body), status_code=status, headers=base, media_type="application/json; charset=utf-8")


class LoginApp:
    """Builds the Starlette app of the login service on a runtime (tenant, tokens, urls)."""

    def __init__(self, runtime):
        self.rt = runtime
        self.app = Starlette(routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_configuration, methods=["GET"]),
            Route("/{tenant}/.well-known/openid-configuration", self.openid_configuration, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", self.keys, methods=["GET"]),
            Route("/{tenant}/discovery/keys", self.keys, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
            Route("/{path:path}", self.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    # Helpers ------------------------------------------------------------------------------------------------------

    def _tenant_matches(self, value):
        tenant = self.rt.tenant
        value = (value or "").lower()
        return value == tenant.tenant_id or any(value == name.lower() for name, domain in tenant.domains.items() if domain["isVerified"])

    def _error(self, request, status, error, number, description, extra=None):
        trace_id = str(uuid.uuid4())
        correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
                number, description, trace_id, correlation_id, stamp),
            "error_codes": [number],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "%s/error?code=%d" % (self._base(request), number),
        }
        body.update(extra or {})
        return _json(body, status, {"x-ms-request-id": trace_id, "client-request-id": correlation_id})

    def _unknown_tenant(self, request, tenant, error="invalid_tenant"):
        return self._error(request, 400, error, 90002, (
            "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "
            "Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.") % tenant)

    @staticmethod
    def _base(request):
        return "%s://%s" % (request.url.scheme, request.url.netloc)

    def _log(self, request, status, app_id=None, body_keys=None):
        self.rt.tenant.log_request("login", request.method, request.url.path, request.url.query, status, app_id=app_id,
                                   write=False, body_keys=body_keys)

    # Endpoints ----------------------------------------------------------------------------------------------------

    async def openid_configuration(self, request):
        tenant = request.path_params["tenant"]
        if not self._tenant_matches(tenant):
            response = self._unknown_tenant(request, tenant)
            self._log(request, response.status_code)
            return response
        base = "%s/%s" % (self._base(request), self.rt.tenant.tenant_id)
        v2 = "/v2.0/" in request.url.path
        graph_host = self.rt.urls["graph"].split("://", 1)[1]
        body = {
            "token_endpoint": base + ("/oauth2/v2.0/token" if v2 else "/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": base + ("/discovery/v2.0/keys" if v2 else "/discovery/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": base + "/v2.0" if v2 else "https://sts.windows.net/%s/" % self.rt.tenant.tenant_id,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "%s/oidc/userinfo" % self.rt.urls["graph"],
            "authorization_endpoint": base + ("/oauth2/v2.0/authorize" if v2 else "/oauth2/authorize"),
            "device_authorization_endpoint": base + ("/oauth2/v2.0/devicecode" if v2 else "/oauth2/devicecode"),
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": base + ("/oauth2/v2.0/logout" if v2 else "/oauth2/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                                 "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
                                 "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": base + "/kerberos",
            "tenant_region_scope": "OC",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": graph_host,
            "rbac_url": "https://pas.windows.net",
        }
        self._log(request, 200)
        return _json(body, 200, {"Cache-Control": "max-age=86400, private", "Pragma": None})

    async def keys(self, request):
        self._log(request, 200)
        return _json(self.rt.tokens.jwks(), 200, {"Cache-Control": "max-age=86400, private", "Pragma": None})

    async def not_found(self, request):
        self._log(request, 404)
        return _json({"error": "not_found", "error_description": "The sandbox login service has no endpoint %s." % request.url.path}, 404)

    def _resource(self, scope_value):
        """The sandbox resource URL a '<resource>/.default' scope names, or None."""
        resource = scope_value[:-len("/.default")].rstrip("/")
        graph, exchange = self.rt.urls["graph"], self.rt.urls["exchange"]
        if resource in (graph, graph.replace("127.0.0.1", "localhost")) or resource + "/" in GRAPH_ALIASES or resource in GRAPH_ALIASES:
            return graph
        if resource in (exchange, exchange.replace("127.0.0.1", "localhost")) or resource in EXCHANGE_ALIASES:
            return exchange
        return None

    def _assertion_audiences(self, request):
        tenant = self.rt.tenant
        names = [tenant.tenant_id] + [name for name, domain in tenant.domains.items() if domain["isVerified"]]
        port = request.url.port
        hosts = {request.url.netloc, "127.0.0.1:%s" % port, "localhost:%s" % port}
        out = []
        for host in hosts:
            for name in names:
                out.append("https://%s/%s/oauth2/v2.0/token" % (host, name))
                out.append("https://%s/%s/oauth2/token" % (host, name))
        return out

    async def token(self, request):
        raw = await request.body()
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        client_id = form.get("client_id")
        response = self._token(request, form)
        self._log(request, response.status_code, app_id=client_id, body_keys=sorted(form))
        return response

    def _token(self, request, form):
        tenant_path = request.path_params["tenant"]
        if not self._tenant_matches(tenant_path):
            return self._unknown_tenant(request, tenant_path, error="invalid_request")
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                return self._error(request, 400, "invalid_request", 900144,
                                   "The request body must contain the following parameter: '%s'." % name)
        if form["grant_type"] != "client_credentials":
            return self._error(request, 400, "unsupported_grant_type", 70003,
                               "The app requested an unsupported grant type '%s'." % form["grant_type"])
        app = self.rt.tenant.app(form["client_id"])
        if app is None:
            return self._error(request, 400, "unauthorized_client", 700016, (
                "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not "
                "been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your "
                "authentication request to the wrong tenant.") % (form["client_id"], self.rt.tenant.organization))
        scopes = form["scope"].split()
        resources = []
        for scope_value in scopes:
            if not scope_value.endswith("/.default"):
                if scope_value in ("openid", "profile", "offline_access", "email"):
                    continue
                return self._error(request, 400, "invalid_scope", 1002012, (
                    "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "
                    "suffixed to the resource identifier (application ID URI).") % scope_value)
            resource = self._resource(scope_value)
            if resource is None:
                # A resource the tenant has no service principal for (public clients quote the answer, e.g. for
                # https://security.microsoft.us; the tenant is named by its display name).
                return self._error(request, 400, "invalid_resource", 500011, (
                    "The resource principal named %s was not found in the tenant named %s. This can happen if the application has "
                    "not been installed by the administrator of the tenant or consented to by any user in the tenant. You might "
                    "have sent your authentication request to the wrong tenant.") % (scope_value[:-len("/.default")], self.rt.tenant.organization))
            resources.append(resource)
        if len(set(resources)) != 1:
            return self._error(request, 400, "invalid_scope", 70011,
                               "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid." % form["scope"])
        if form.get("client_secret"):
            if not app.check_secret(form["client_secret"]):
                return self._error(request, 401, "invalid_client", 7000215, (
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "
                    "client secret ID, for a secret added to app '%s'.") % app.client_id)
        elif form.get("client_assertion"):
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                return self._error(request, 400, "invalid_request", 900144,
                                   "The request body must contain the following parameter: 'client_assertion_type'.")
            try:
                auth.verify_client_assertion(form["client_assertion"], app, self._assertion_audiences(request))
            except auth.AssertionRejected as exc:
                return self._error(request, 401, "invalid_client", exc.number, exc.description)
        else:
            return self._error(request, 401, "invalid_client", 7000218,
                               "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        lifetime = int(self.rt.tenant.config.get("token_lifetime_s") or 3599)
        token = self.rt.tokens.issue(app, resources[0], lifetime)
        request_id = str(uuid.uuid4())
        headers = {"x-ms-request-id": request_id, "client-request-id": request.headers.get("client-request-id") or request_id}
        return _json({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}, 200, headers)
