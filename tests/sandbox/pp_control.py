"""Control API of the Practice Protect tenant, under /_sandbox/pp/ (served by control.py, same admin token).

- ``GET pp/state``: users (with roles and attributes), roles with members, apps with their provisioning settings,
  attribute columns, the invitation outbox, provisioning jobs (with trigger and user subset) and the OAuth clients.
- ``POST pp/seed``: ``{roles: [{Name, Description?, AdminRights?}], users: [{Name, DisplayName?, Mail?, MobileNumber?,
  Roles?, Attributes?}], clients: [{client_id, Roles}], apps: {<app id>: {sku?, usage_location?, roles?,
  service_account?, client_id?}}}``, added without the API (no log); ``client_id`` is the Entra ID app registration
  token-based provisioning signs in with. New clients' secrets are in the answer; such clients last until the next reset.
- ``POST pp/advance``: run provisioning work that has come due now (tests that do not want to wait for the timer).
"""

import json

from .pp_state import PPError


async def handle(runtime, request, _json, _problem):
    pp = getattr(runtime, "pp", None)
    if pp is None:
        return _problem(404, "The Practice Protect service is not running.")
    path = request.path_params["path"].strip("/")
    if request.method == "GET" and path == "state":
        pp.engine.advance()
        return _json(pp.dump())
    if request.method == "POST" and path == "seed":
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            return _json(pp.seed(body), 201)
        except (ValueError, KeyError, TypeError, PPError) as exc:
            return _problem(400, "pp seed: %s" % (getattr(exc, "message", None) or exc))
    if request.method == "POST" and path == "advance":
        pp.engine.advance()
        return _json({"jobs": pp.engine.dump()})
    return _problem(404, "No control endpoint %s %s." % (request.method, request.url.path))
