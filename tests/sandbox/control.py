"""The sandbox control API under /_sandbox/ (served on every port), protected by SANDBOX_ADMIN_TOKEN.

Tests use it to reset the tenant, read it, read the request log, set the realism knobs, add apps and seed users.
"""

import hmac
import json

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from . import secret_log
from .errors import GraphError


def _json(body, status=200):
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _problem(status, message):
    return _json({"error": {"code": "SandboxControlError", "message": message}}, status)


class ControlApp:
    """Starlette app of the control API over a runtime (tenant, realism, apps factory)."""

    def __init__(self, runtime):
        self.rt = runtime
        self.app = Starlette(routes=[
            Route("/_sandbox/reset", self.reset, methods=["POST"]),
            Route("/_sandbox/state", self.state, methods=["GET"]),
            Route("/_sandbox/log", self.log, methods=["GET", "DELETE"]),
            Route("/_sandbox/config", self.config, methods=["GET", "PATCH"]),
            Route("/_sandbox/apps", self.apps, methods=["GET", "POST"]),
            Route("/_sandbox/seed", self.seed, methods=["POST"]),
            Route("/_sandbox/skus", self.skus, methods=["PATCH"]),
            Route("/_sandbox/mail", self.mail, methods=["GET"]),
            Route("/_sandbox/access", self.access, methods=["POST"]),
            Route("/_sandbox/pp/{path:path}", self.pp, methods=["GET", "POST"]),
            Route("/_sandbox/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self._authorised(scope):
            await _problem(401, "The control API needs 'Authorization: Bearer <SANDBOX_ADMIN_TOKEN>'.")(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope):
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.rt.admin_token.encode())
        return False

    @staticmethod
    async def _body(request):
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError("the body is not valid JSON")

    async def reset(self, request):
        self.rt.tenant.reset()
        self.rt.realism.reset()
        if getattr(self.rt, "pp", None) is not None:
            self.rt.pp.reset()  # after the Graph tenant: the Practice Protect seed links to its users
        return _json({"reset": True})

    async def state(self, request):
        return _json(self.rt.tenant.dump())

    async def log(self, request):
        if request.method == "DELETE":
            self.rt.tenant.log = []
            return Response(status_code=204)
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return _problem(400, "since must be an integer")
        return _json({"entries": self.rt.tenant.log_since(since)})

    async def config(self, request):
        if request.method == "GET":
            return _json(self.rt.tenant.config)
        try:
            patch = await self._body(request)
            return _json(self.rt.realism.configure(patch))
        except ValueError as exc:
            return _problem(400, str(exc))

    async def apps(self, request):
        if request.method == "GET":
            return _json({"apps": [app.describe() for app in self.rt.tenant.apps.values()]})
        try:
            body = await self._body(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        roles = body.get("roles", [])
        credential = body.get("credential", "secret")
        if not isinstance(body.get("display_name"), str) or not body["display_name"]:
            return _problem(400, "display_name is required")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            return _problem(400, "roles must be a list of strings")
        if credential not in ("secret", "certificate"):
            return _problem(400, "credential must be 'secret' or 'certificate'")
        directory_roles = body.get("directory_roles", [])
        if not isinstance(directory_roles, list) or not all(isinstance(role, str) for role in directory_roles):
            return _problem(400, "directory_roles must be a list of role template ids")
        return _json(self.rt.create_app(body["display_name"], roles, credential, directory_roles=directory_roles), 201)

    async def seed(self, request):
        try:
            body = await self._body(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        secret_log.record_passwords(body, "control seed")  # seeded users' passwordProfile
        users = body.get("users", [] if ("groups" in body or "applications" in body) else None)
        groups = body.get("groups", [])
        applications = body.get("applications", [])
        if not isinstance(applications, list) or not all(isinstance(spec, dict) for spec in applications):
            return _problem(400, "applications must be a list of objects")
        if not isinstance(users, list):
            return _problem(400, "users must be a list")
        if not isinstance(groups, list):
            return _problem(400, "groups must be a list")
        created = []
        try:
            for spec in users:
                created.append(self.rt.tenant.seed_user(dict(spec) if isinstance(spec, dict) else spec)["id"])
            for spec in groups:  # after the users, so that groups can name them (and groups seeded before them) as members
                created.append(self.rt.tenant.seed_group(dict(spec) if isinstance(spec, dict) else spec)["id"])
            # Application registrations with their service principal, Microsoft Graph permissions and a client secret
            # (graph_applications.Registrations.seed): {displayName, roles, credential}.
            registered = [self.rt.tenant.registrations.seed(spec) for spec in applications]
        except GraphError as exc:
            return _json({"error": {"code": exc.code, "message": exc.message, "index": len(created)}, "created": created}, 400)
        if applications:
            return _json({"created": created, "applications": registered}, 201)
        return _json({"created": created}, 201)

    async def skus(self, request):
        """Seats per SKU: ``{"<skuPartNumber or skuId>": seats, ...}``; answers the SKUs as ``GET /subscribedSkus`` lists them."""
        try:
            body = await self._body(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        if not isinstance(body, dict):
            return _problem(400, "the body must map SKU part numbers (or skuIds) to seat counts")
        try:
            for sku, seats in body.items():
                self.rt.tenant.set_seats(sku, seats)
        except GraphError as exc:
            return _problem(400, exc.message)
        return _json({"skus": self.rt.tenant.list_skus()})

    async def mail(self, request):
        """Messages accepted by Graph's sendMail since the last reset, oldest first (mail.py)."""
        return _json({"messages": list(self.rt.tenant.sent_mail)})

    async def access(self, request):
        """A person's ways in (access.py): ``{"user", "methods", "rules", "devices", "auto_reply"}`` added to a user."""
        from . import access
        try:
            body = await self._body(request)
            return _json(access.seed_person(self.rt.tenant, body if isinstance(body, dict) else {}), 201)
        except ValueError as exc:
            return _problem(400, str(exc))
        except GraphError as exc:
            return _problem(400, exc.message)

    async def pp(self, request):
        """Practice Protect: GET pp/state, POST pp/seed (roles, users, OAuth clients, app provisioning settings)."""
        from .pp_control import handle
        return await handle(self.rt, request, _json, _problem)

    async def unknown(self, request):
        return _problem(404, "No control endpoint %s %s." % (request.method, request.url.path))
