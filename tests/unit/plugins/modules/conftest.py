# -*- coding: utf-8 -*-
"""Fixtures for running the modules' real ``main()`` against canned service answers.

In the style of community.hashi_vault's module tests: the module args are patched in with
``ansible.module_utils.testing.patch_module_args``, ``main()`` runs until its ``SystemExit`` and the JSON it printed is
the result. Nothing reaches a network: ``_http.build_session`` gives the ``FakeService``'s session, which answers
every request from a route table and records it; ``_auth.TokenProvider`` is a fake that hands out fixed tokens (the
Practice Protect client fetches its token over the session, from a canned route of the token endpoint). Waits
(``wait_until``, replication lag, the clients' backoff) sleep on a fake clock, so a test never waits for real.

Routes: ``fake.route(METHOD, path_regex, answer, when=None)``. The regex must match the whole URL path (without the
query); ``when(request)`` narrows it further (a ``$filter``, a cmdlet, a Redrock script). Routes added later take
precedence. An answer is ``(status, body)`` or ``(status, body, headers)``, or a callable ``answer(request)``
returning one (stateful cases). A request no route answers fails the test. Graph ``$batch`` requests are answered
sub-request by sub-request from the same table.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import inspect
import json
import os
import pkgutil
import re
import threading
import time

import pytest
from ansible.module_utils import _internal as _module_utils_internal
from ansible.module_utils.common import warnings as _warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.practiceprotect.m365.plugins.module_utils import _auth, _http

try:
    from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
except ImportError:  # pragma: no cover
    from urllib import unquote, urlencode
    from urlparse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

import ansible_collections.practiceprotect.m365.plugins.module_utils as module_utils_package

GRAPH_URL = "https://graph.microsoft.com"
EXCHANGE_URL = "https://outlook.office365.com"
PP_URL = "https://northwind.my.practiceprotect.com"
TENANT_ID = "b7f0c5c1-6d3e-4f0a-9a51-1f2e3d4c5b6a"
CLIENT_ID = "0c8a5e42-3f11-4a7e-8d62-6a7f1b2c3d4e"
CLIENT_SECRET = "Qm7~xV9pL2.kR4tY6wZ-m365AppSecret"
PP_APP_ID = "b1c2d3e4-aaaa-4bbb-8ccc-0d1e2f3a4b5c"
PP_CLIENT_ID = "automation@northwindacct.com"
PP_CLIENT_SECRET = "Pp!Cl13nt-S3cr3t-7f3a9c"
PP_TOKEN = "pp-access-token-eyJhbGciOi.fake"

# Practice Protect endpoints that change something (everything there is a POST).
PP_WRITES = frozenset(("/UserMgmt/InviteUsers", "/CDirectoryService/CreateUser", "/CDirectoryService/ChangeUser",
                       "/CDirectoryService/SetUserState", "/UserMgmt/ResetUserPassword", "/UserMgmt/RemoveUsers",
                       "/ExtData/SetColumns", "/ExtData/UpdateSchema", "/Roles/UpdateRole", "/Provisioning/StartSync"))
INVOKE_PATH = r"/adminapi/beta/[^/]+/InvokeCommand"


class Request:
    """One request the module sent (a ``$batch`` sub-request is one too, with ``batched`` true)."""

    def __init__(self, method, url, params=None, body=None, headers=None, form=None, auth=None, batched=False):
        parts = urlsplit(url)
        self.method = method.upper()
        self.url = "%s://%s%s" % (parts.scheme, parts.netloc, parts.path)
        self.host = parts.netloc
        self.path = unquote(parts.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, v) for k, v in (params or {}).items() if v is not None]
        self.query = dict(query)
        self.json = body
        self.headers = dict(headers or {})
        self.form = form
        self.auth = auth
        self.batched = batched

    @property
    def service(self):
        if self.host == urlsplit(GRAPH_URL).netloc:
            return "graph"
        if self.host == urlsplit(EXCHANGE_URL).netloc:
            return "exchange"
        if self.path.startswith("/oauth2/token/"):
            return "pp_token"
        return "pp"

    @property
    def cmdlet(self):
        """The Exchange cmdlet a request runs (None for other services)."""
        if self.service != "exchange":
            return None
        return ((self.json or {}).get("CmdletInput") or {}).get("CmdletName")

    @property
    def parameters(self):
        return ((self.json or {}).get("CmdletInput") or {}).get("Parameters") or {}

    @property
    def is_batch(self):
        return self.service == "graph" and self.path.endswith("/$batch")

    @property
    def is_write(self):
        """Whether the request changes something: Graph writes (a ``$batch`` envelope is judged by its sub-requests),
        Exchange cmdlets other than Get-*, the Practice Protect write endpoints."""
        if self.service == "graph":
            return self.method != "GET" and not self.is_batch
        if self.service == "exchange":
            return not (self.cmdlet or "").startswith("Get-")
        if self.service == "pp":
            return self.path in PP_WRITES
        return False

    @property
    def filter(self):
        return self.query.get("$filter", "")

    def __repr__(self):
        what = self.cmdlet or ("%s?%s" % (self.path, urlencode(self.query)) if self.query else self.path)
        return "<%s %s%s>" % (self.method, what, " (batched)" if self.batched else "")


class FakeResponse:
    """What ``requests`` would have returned: status, headers, content, text, json()."""

    def __init__(self, url, status, body=None, headers=None):
        self.url = url
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        if body is None:
            self.content = b""
        elif isinstance(body, (dict, list)):
            self.content = json.dumps(body).encode("utf-8")
            self.headers.setdefault("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
        else:
            self.content = str(body).encode("utf-8")
            self.headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        self.text = self.content.decode("utf-8")
        self.raw = None
        self.reason = "Canned"

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        return None


class FakeSession:
    """The module's HTTP session: answers from the service's routes and records every request."""

    def __init__(self, service):
        self.service = service
        self.headers = {}
        self.verify = True

    def request(self, method, url, params=None, data=None, json=None, headers=None, timeout=None, auth=None, **kwargs):
        form = None
        body = json
        if isinstance(data, (bytes, str)) and data:
            body = _json_loads(data)
        elif isinstance(data, dict):
            form = dict(data)
        return self.service.dispatch(Request(method, url, params=params, body=body, headers=headers, form=form, auth=auth))

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def close(self):
        return None


def _json_loads(data):
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data)


class FakeTokens:
    """Stands for ``_auth.TokenProvider``: one fixed token per resource, and a record of what was asked."""

    def __init__(self, service, tenant_id, client_id, authority_url, session, **kwargs):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.authority_url = authority_url
        self.kwargs = kwargs
        self.issued = []
        self.forgotten = []
        service.token_providers.append(self)

    def token(self, resource):
        self.issued.append(resource)
        return "m365-token-for-%s" % urlsplit(resource).netloc

    def forget(self, resource=None):
        self.forgotten.append(resource)


class FakeClock:
    """monotonic() is the real clock plus every second slept; sleep() only records and moves the clock."""

    def __init__(self):
        self.offset = 0.0
        self.sleeps = []
        self.lock = threading.Lock()

    def monotonic(self):
        return time.monotonic() + self.offset

    def sleep(self, seconds):
        with self.lock:
            self.sleeps.append(seconds)
            self.offset += max(0.0, float(seconds or 0))


class FakeService:
    """The route table, the record of requests, and helpers that build realistic answers of each service."""

    GRAPH_URL = GRAPH_URL
    EXCHANGE_URL = EXCHANGE_URL
    PP_URL = PP_URL
    TENANT_ID = TENANT_ID
    CLIENT_SECRET = CLIENT_SECRET
    PP_CLIENT_SECRET = PP_CLIENT_SECRET

    def __init__(self):
        self.routes = []
        self.requests = []
        self.session_kwargs = []
        self.token_providers = []
        self.lock = threading.RLock()
        self.session = FakeSession(self)
        self.pp_token_route()

    # -- the route table -------------------------------------------------------------------------------------------

    def route(self, method, path, answer, when=None):
        """Answer ``method`` requests whose URL path matches ``path`` (a regex of the whole path) and ``when``."""
        with self.lock:
            self.routes.insert(0, (method.upper(), re.compile(path), answer, when))

    def graph(self, method, path, answer, when=None):
        """A Graph route; ``path`` is relative to /v1.0/ (a regex)."""
        self.route(method, r"/v1\.0/" + path, answer, when)

    def exchange(self, cmdlet, answer, when=None):
        """An Exchange admin API route for one cmdlet (``when`` may look at ``request.parameters``)."""
        self.route("POST", INVOKE_PATH, answer, lambda r: r.cmdlet == cmdlet and (when is None or when(r)))

    def pp(self, path, answer, when=None):
        """A Practice Protect endpoint (its path, for example /Redrock/query)."""
        self.route("POST", re.escape(path), answer, when)

    def pp_token_route(self, answer=None):
        token = {"access_token": PP_TOKEN, "token_type": "Bearer", "expires_in": 3600, "scope": "all"}
        self.route("POST", r"/oauth2/token/[^/]+", answer or (200, token))

    def dispatch(self, request):
        with self.lock:
            self.requests.append(request)
            batch = request.is_batch and not self._match(request)
            answer = None if batch else self._match(request)
        if batch:
            return FakeResponse(request.url, 200, self._batch(request))
        if answer is None:
            raise AssertionError("No canned answer for %r (query %r, body %r)" % (request, request.query, request.json))
        if callable(answer):
            answer = answer(request)  # outside the lock: a test's answers may wait for each other (concurrent reads)
        status, body, headers = (tuple(answer) + (None,))[:3]
        return FakeResponse(request.url, status, body, headers)

    def _match(self, request):
        for method, path, answer, when in self.routes:
            if method == request.method and path.fullmatch(request.path) and (when is None or when(request)):
                return answer
        return None

    def _batch(self, envelope):
        responses = []
        base = GRAPH_URL + "/v1.0"
        for sub in envelope.json["requests"]:
            response = self.dispatch(Request(sub["method"], base + sub["url"], body=sub.get("body"), headers=sub.get("headers"), batched=True))
            item = {"id": sub["id"], "status": response.status_code, "headers": dict(response.headers)}
            if response.content:
                item["body"] = response.json() if "json" in response.headers.get("Content-Type", "") else response.text
            responses.append(item)
        return {"responses": responses}

    # -- what was sent ---------------------------------------------------------------------------------------------

    def sent(self, service=None):
        """The requests of ``service`` (graph, exchange, pp, pp_token), ``$batch`` envelopes left out."""
        return [r for r in self.requests if (service is None or r.service == service) and not r.is_batch]

    def writes(self):
        return [r for r in self.requests if r.is_write]

    def calls(self, service=None):
        """``(METHOD, path)`` of each request (Exchange: ``("POST", cmdlet)``), envelopes left out."""
        return [(r.method, r.cmdlet or r.path) for r in self.sent(service)]

    # -- answers ---------------------------------------------------------------------------------------------------

    @staticmethod
    def page(items, next_link=None, context="users"):
        """A Graph collection page."""
        body = {"@odata.context": "%s/v1.0/$metadata#%s" % (GRAPH_URL, context), "value": list(items)}
        if next_link:
            body["@odata.nextLink"] = next_link
        return 200, body

    @staticmethod
    def graph_error(status, code, message, request_id="7c1f0d2e-4b5a-4c3d-9e8f-0a1b2c3d4e5f", details=None):
        error = {"code": code, "message": message,
                 "innerError": {"date": "2024-05-06T01:02:03", "request-id": request_id, "client-request-id": request_id}}
        if details:
            error["details"] = details
        return status, {"error": error}, {"request-id": request_id}

    @staticmethod
    def exo(items, next_link=None, warnings=None):
        """An InvokeCommand answer."""
        body = {"@odata.context": "%s/adminapi/beta/%s/$metadata#Collection(Exchange.GenericHashTable)" % (EXCHANGE_URL, TENANT_ID),
                "value": list(items)}
        if next_link:
            body["@odata.nextLink"] = next_link
        if warnings:
            body["@adminapi.warnings"] = list(warnings)
        return 200, body

    @staticmethod
    def exo_error(status, exception_type, message, error_id="Ex6F9304"):
        """A cmdlet error as the admin API gives it: details ``<id>|<exception type>|<text>``."""
        detail = "%s|%s|%s" % (error_id, exception_type, message)
        return status, {"error": {"code": "NotFound" if status == 404 else "BadRequest", "message": "Error executing cmdlet",
                                  "details": [{"code": "Context", "target": "", "message": detail}],
                                  "innererror": {"message": "Error executing cmdlet", "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                                                 "internalException": {"message": message, "type": exception_type}}}}, {"request-id": "exo-req-1"}

    @staticmethod
    def envelope(result=None):
        """A Practice Protect success."""
        return 200, {"success": True, "Result": result, "Message": None, "MessageID": None, "Exception": None, "ErrorID": None,
                     "ErrorCode": None, "IsSoftError": False, "InnerExceptions": None}

    @staticmethod
    def pp_error(message, error_id, status=200):
        """A Practice Protect refusal (HTTP 200 with success false)."""
        return status, {"success": False, "Result": None, "Message": message, "MessageID": None, "Exception": None, "ErrorID": error_id,
                        "ErrorCode": None, "IsSoftError": False, "InnerExceptions": None}

    @staticmethod
    def rows(rows):
        """A Redrock (or GetRoleMembers ...) result of ``rows``."""
        return {"Count": len(rows), "FullCount": len(rows), "IsAggregate": False, "Columns": [],
                "Results": [{"Entities": [], "Row": dict(row)} for row in rows]}

    def redrock(self, table, rows, when=None):
        """Answer Redrock queries ``FROM <table>`` (and ``when``) with ``rows`` (one page)."""
        def matches(request):
            script = (request.json or {}).get("Script") or ""
            return re.search(r"\bFROM %s\b" % table, script) is not None and (when is None or when(request))
        self.pp("/Redrock/query", lambda request: self.envelope(self.rows(rows)), when=matches)

    @staticmethod
    def in_values(text):
        """The quoted values of OData ``x in ('a','b')`` or ``eq 'a'`` clauses, lower-cased."""
        return [v.replace("''", "'").lower() for v in re.findall(r"'((?:[^']|'')*)'", text or "")]

    @staticmethod
    def users_by_key(users):
        """An answer to Graph's ``GET /users?$filter=userPrincipalName in (...)`` (or ``id in (...)``) from ``users``."""
        def answer(request):
            if not re.match(r"^(userPrincipalName|id) in \(", request.filter):
                raise AssertionError("unexpected users filter %r" % request.filter)
            wanted = set(FakeService.in_values(request.filter))
            found = [u for u in users if (u.get("userPrincipalName") or "").lower() in wanted or (u.get("id") or "").lower() in wanted]
            return FakeService.page(found)
        return answer


# -- fixtures ------------------------------------------------------------------------------------------------------


def _patch_waits(monkeypatch, clock):
    """Every default ``sleep=time.sleep`` / ``clock=time.monotonic`` of the collection's module_utils becomes the fake clock's."""
    replace = {time.sleep: clock.sleep, time.monotonic: clock.monotonic}
    for info in pkgutil.iter_modules(module_utils_package.__path__):
        module = importlib.import_module("%s.%s" % (module_utils_package.__name__, info.name))
        functions = []
        for value in vars(module).values():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                functions.append(value)
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                functions.extend(f for f in vars(value).values() if inspect.isfunction(f))
        for function in functions:
            defaults = function.__defaults__
            if defaults and any(_replaceable(d, replace) for d in defaults):
                monkeypatch.setattr(function, "__defaults__", tuple(replace.get(d, d) if _replaceable(d, replace) else d for d in defaults))


def _replaceable(value, replace):
    try:
        return value in replace
    except TypeError:
        return False


@pytest.fixture
def clock(monkeypatch):
    fake_clock = FakeClock()
    _patch_waits(monkeypatch, fake_clock)
    return fake_clock


@pytest.fixture
def fake(monkeypatch, tmp_path, clock):
    """The fake transport of a module run (see the module docstring)."""
    service = FakeService()
    service.clock = clock

    def build_session(**kwargs):
        service.session_kwargs.append(kwargs)
        return service.session

    monkeypatch.setattr(_http, "build_session", build_session)
    monkeypatch.setattr(_auth, "TokenProvider", lambda *args, **kwargs: FakeTokens(service, *args, **kwargs))
    for name in list(os.environ):
        if name.startswith("M365_") or name.startswith("PP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("M365_TOKEN_CACHE_PATH", str(tmp_path / "m365-token-cache.json"))
    monkeypatch.setenv("PP_TOKEN_CACHE_PATH", str(tmp_path / "pp-token-cache.json"))
    return service


@pytest.fixture
def m365_args():
    """A complete Microsoft 365 connection (client secret)."""
    return {"tenant_id": TENANT_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "retry_deadline": 5, "request_timeout": 5}


@pytest.fixture
def pp_args():
    """A complete Practice Protect connection."""
    return {"pp_url": PP_URL, "pp_app_id": PP_APP_ID, "pp_client_id": PP_CLIENT_ID, "pp_client_secret": PP_CLIENT_SECRET,
            "retry_deadline": 5, "request_timeout": 5}


class Runner:
    """``run_module(module, args, check_mode=False, diff=False, no_log=False)``: the module's result (``failed`` when it
    failed); ``output`` keeps what it printed, ``code`` its exit code."""

    def __init__(self, capsys):
        self.capsys = capsys
        self.output = None
        self.code = None

    def __call__(self, module, args, check_mode=False, diff=False, no_log=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        if no_log:
            args["_ansible_no_log"] = True
        self.capsys.readouterr()
        # Each module run is a process of its own in Ansible, on the target side: no warning of an earlier run in this one,
        # and target-side behaviour even when other tests of the session imported controller code (warnings then go to the
        # controller's display instead of the result).
        _warnings._global_warnings.clear()
        _warnings._global_deprecations.clear()
        controller = _module_utils_internal.is_controller
        _module_utils_internal.is_controller = False
        try:
            with patch_module_args(args):
                with pytest.raises(SystemExit) as exited:
                    module.main()
        finally:
            _module_utils_internal.is_controller = controller
        self.code = exited.value.code
        self.output = self.capsys.readouterr().out
        result = json.loads(self.output)
        assert bool(result.get("failed")) is (self.code != 0), "exit code %s for %r" % (self.code, result)
        return result

    @staticmethod
    def warnings(result):
        """The texts of the result's warnings (ansible-core 2.19 prints each as a WarningSummary)."""
        return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings") or []]


@pytest.fixture
def run_module(fake, capsys):
    return Runner(capsys)
