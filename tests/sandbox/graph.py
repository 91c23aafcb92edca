"""Microsoft Graph v1.0: the ASGI app, the request pipeline and $batch.

The Graph side of the sandbox is split as the Practice Protect side is (and as moto splits a service): the tenant is the
model (state.py), graph_urls.py maps "METHOD /template" to a handler, graph_responses.py holds the handlers, graph_query.py
reads query options, and graph_permissions.py holds the permission and resource-unit tables as data.

Every request, whether it comes over HTTP or inside a $batch, goes through ``GraphApp.execute``: route, permission check,
throttling, handler, request log.
"""

import base64
import json
import logging
import uuid
from urllib.parse import urlsplit

from starlette.responses import Response

from . import auth
from . import graph_permissions as permissions
from . import graph_query as query
from . import graph_urls
from . import secret_log
from .errors import GraphError, bad_request, error_body, forbidden
from .graph_responses import GraphResponses

LOG = logging.getLogger("tests.sandbox.graph")
VERSION_SEGMENTS = ("v1.0", "beta")


class GraphApp:
    """The Graph service: an ASGI app over a runtime (tenant, tokens, realism, urls)."""

    def __init__(self, runtime):
        self.rt = runtime
        self.responses = GraphResponses(runtime)

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
        probe = query.Call(method, "/", raw_query, headers, body, base_url, None, request_id=request_id)
        version, _, rest = path.lstrip("/").partition("/")
        if version != "v1.0":
            result = query.error_result(probe, GraphError(400, "BadRequest", "Invalid version: %s" % (version or "(none)")))
            self.tenant.log_request("graph", method, path, raw_query, result.status, app_id=auth.peek_app_id(headers.get("authorization")),
                                    write=method not in ("GET", "HEAD", "OPTIONS"), body_keys=probe.body_keys())
            await self._send(send, result, request_id, client_request_id)
            return
        try:
            claims = self.rt.tokens.validate(headers.get("authorization"), self.rt.urls["graph"])
        except GraphError as exc:
            result = query.error_result(probe, exc)
            result.headers["WWW-Authenticate"] = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
                                                  'authorize", client_id="00000003-0000-0000-c000-000000000000"')
            self.tenant.log_request("graph", method, path, raw_query, result.status, app_id=auth.peek_app_id(headers.get("authorization")),
                                    write=method not in ("GET", "HEAD", "OPTIONS") and not rest.startswith("$batch"),
                                    body_keys=probe.body_keys())
            await self._send(send, result, request_id, client_request_id)
            return
        call = query.Call(method, rest, raw_query, headers, body, base_url, claims, request_id=request_id)
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
            media_type = query.JSON_TYPE
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

    def execute(self, call):
        """Run one call: route, permission, throttling, handler; log it. Always returns a Result."""
        entry = self.tenant.log_request("graph", call.method, "/v1.0" + call.path, call.raw_query, None, app_id=call.app_id,
                                        write=call.is_write, batch=call.batch, body_keys=call.body_keys())
        call.log_seq = entry["seq"]
        usage = {}
        try:
            key, params = graph_urls.match(call)
            if key == "POST /$batch":
                entry["write"] = False
            roles = permissions.required_roles(key, call)
            also = permissions.ROUTE_ALSO_NEEDS.get(key)
            if roles is not None and (not auth.has_any_role(call.claims, roles) or (also and not auth.has_any_role(call.claims, also))):
                raise permissions.ROUTE_DENIED[key]() if key in permissions.ROUTE_DENIED else forbidden()
            if roles is not None:
                throttle = self.rt.realism.charge(call.app_id, permissions.ru_cost(key, call), call.is_write)
                usage = throttle.headers
                if throttle.limited:
                    raise GraphError(429, "TooManyRequests", "Please retry again later.", headers={
                        "Retry-After": str(throttle.retry_after), "x-ms-throttle-scope": throttle.scope,
                        "x-ms-throttle-information": throttle.information})
            handler = graph_urls.HANDLERS[key]
            result = getattr(self if handler == "batch" else self.responses, handler)(call, *params)
        except GraphError as exc:
            result = query.error_result(call, exc)
        except Exception:  # a bug in the sandbox: answer like Graph's 500 and keep serving
            LOG.exception("unhandled error in %s %s", call.method, call.path)
            result = query.error_result(call, GraphError(500, "UnknownError", "An unexpected error occurred in the sandbox."))
        for name, value in usage.items():
            result.headers.setdefault(name, value)
        entry["status"] = result.status
        return result

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
        return query.Result(200, {"responses": responses})

    def _failed_dependency(self, call, item, failed):
        """424 for a request whose dependency failed; it never runs, but is logged like every batch item."""
        parsed = urlsplit(item["url"].strip())
        sub = query.Call(item["method"], parsed.path.lstrip("/"), parsed.query, item.get("headers") or {}, b"", call.base_url, call.claims,
                         batch=call.log_seq)
        self.tenant.log_request("graph", sub.method, "/v1.0" + sub.path, sub.raw_query, 424, app_id=sub.app_id, write=sub.is_write,
                                batch=call.log_seq, body_keys=list(item["body"]) if isinstance(item.get("body"), dict) else [])
        # UNCONFIRMED: the body Graph gives a dependant of a failed request.
        message = "The request could not be performed because it depends on request %s that failed." % failed
        return query.Result(424, error_body("FailedDependency", message, sub.request_id, sub.client_request_id))

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
        path = parsed.path.lstrip("/")
        versioned = path.split("/", 1)[0].lower() in VERSION_SEGMENTS
        if (parsed.scheme or parsed.netloc) and not versioned:
            sub = query.Call(item["method"], "/", "", headers, raw, call.base_url, call.claims, batch=parent)
            return query.error_result(sub, GraphError(400, "BadRequest", "Invalid request URI: %s" % url))  # UNCONFIRMED wording
        # Item URLs are relative to the version (json-batching docs): a path that repeats /v1.0 (or names /beta), also as an
        # absolute URL, is not a route, and Graph answers "Resource not found for the segment 'v1.0'." (reference graph.md,
        # last section; msgraph-sdk-python issue 1015).
        sub = query.Call(item["method"], path, parsed.query, headers, raw, call.base_url, call.claims, batch=parent)
        if sub.path.lower() == "/$batch":
            return query.error_result(sub, GraphError(400, "BadRequest", "Nested batch requests are not supported."))  # UNCONFIRMED wording
        return self.execute(sub)

    @staticmethod
    def _batch_response(item_id, result):
        headers = {"Cache-Control": "no-cache"}
        if isinstance(result.body, (dict, list)):
            headers["OData-Version"] = "4.0"
            headers["Content-Type"] = query.JSON_TYPE
        elif isinstance(result.body, str):
            headers["Content-Type"] = "text/plain"
        headers.update(result.headers)
        out = {"id": item_id, "status": result.status, "headers": headers}
        if result.body is not None:
            out["body"] = result.body
        return out
