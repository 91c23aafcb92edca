# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Graph v1.0 client: requests, errors, paging, ``$batch`` and replication lag.

Transport retries (429/503/504, resets) live in ``_http``; this layer adds what is specific to
Graph: the error body, a fresh token after a 401, following ``@odata.nextLink`` verbatim with the
``ConsistencyLevel`` header re-sent on every page, ``$batch`` with results matched by id and
throttled sub-requests retried after their own ``Retry-After``, and 404s on objects this run has
just written treated as replication lag.

While a module applies its plans with a pool of workers (``GraphClient.batching``), the single
requests those workers make are gathered into ``$batch`` requests of up to 20: each worker still
sees its own answer, as if it had made the call alone, so the code that plans and applies one
person is the code that applies a thousand.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading
import time

from ansible_collections.practiceprotect.m365.plugins.module_utils._client import ServiceClient, wait_until
from ansible_collections.practiceprotect.m365.plugins.module_utils._http import READ_RETRY_STATUSES, RETRY_STATUSES, SAFE_METHODS, retried

try:
    from requests.structures import CaseInsensitiveDict
except ImportError:  # pragma: no cover - reported by the module
    CaseInsensitiveDict = dict

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover
    from urllib import quote, urlencode

BATCH_LIMIT = 20
_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
BATCH_WINDOW = 0.02  # seconds a batch waits for the calls of other workers before it goes


class GraphError(Exception):
    """A Graph call failed. ``str()`` is a sentence for people; the fields are for code."""

    def __init__(self, message, status=None, code=None, request_id=None, details=None, method=None, path=None):
        super(GraphError, self).__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details = details or []
        self.method = method
        self.path = path

    @classmethod
    def from_response(cls, status, body, headers=None, method=None, path=None):
        headers = headers or {}
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            error = {}
        inner = error.get("innerError") or error.get("innererror") or {}
        request_id = inner.get("request-id") or _header(headers, "request-id")
        message = error.get("message") or ("HTTP %s" % status)
        return cls(message, status=status, code=error.get("code"), request_id=request_id,
                   details=error.get("details") or [], method=method, path=path)

    def detail_codes(self):
        return [d.get("code") for d in self.details if isinstance(d, dict)]

    def as_dict(self):
        return {"status": self.status, "error_code": self.code, "request_id": self.request_id,
                "method": self.method, "path": self.path}


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def quote_key(value):
    """An id or UPN as a path segment (``'`` and ``#`` in UPNs must be escaped)."""
    return quote(value, safe="@")


def odata_string(value):
    """A string literal for ``$filter``: single quotes doubled."""
    return "'%s'" % value.replace("'", "''")


IN_LIMIT = 15  # values Graph accepts in one ``in (...)`` clause
DIRECTORY_FROM = 4 * IN_LIMIT + 1  # from this many keys on, one paged list of the directory costs fewer requests


def in_filters(field, values):
    """``field in (...)`` clauses of at most ``IN_LIMIT`` values each: Graph refuses more in one clause."""
    return ["%s in (%s)" % (field, ",".join(odata_string(v) for v in values[offset:offset + IN_LIMIT]))
            for offset in range(0, len(values), IN_LIMIT)]


def read_users(graph, keys, select, expand=None, directory_from=DIRECTORY_FROM, every=None):
    """Users by UPN or object id, keyed by the lower-case key; keys that name nobody are left out.

    ``userPrincipalName in (...)`` and ``id in (...)`` queries (``in_filters``), or one paged list of the whole directory for
    ``directory_from`` keys or more (None: never). The one reader of users by a list of keys; a caller that keeps what it
    reads passes ``every(user)``, called for each user read (the whole directory when it was listed).
    """
    keys = sorted(set(k.strip().lower() for k in keys if k and k.strip()))
    params = {"$select": ",".join(select), "$top": "999"}
    if expand:
        params["$expand"] = expand
    found = {}

    def keep(user):
        if every is not None:
            every(user)
        for key in (user.get("id"), user.get("userPrincipalName")):
            if key and key.lower() in keys:
                found[key.lower()] = user

    if directory_from is not None and len(keys) >= directory_from:
        for user in graph.list("users", params=params):
            keep(user)
        return found
    ids = [k for k in keys if _GUID_RE.match(k)]
    upns = [k for k in keys if not _GUID_RE.match(k)]
    for field, values in (("userPrincipalName", upns), ("id", ids)):
        for clause in in_filters(field, values):
            for user in graph.list("users", params=dict(params, **{"$filter": clause})):
                keep(user)
    return found


class GraphClient(ServiceClient):
    """Calls Graph for one module run. ``token_provider.token(resource)`` supplies the bearer."""

    def __init__(self, session, token_provider, graph_url="https://graph.microsoft.com", timeout=30,
                 replication_timeout=120, sleep=time.sleep, clock=time.monotonic, retry_deadline=300):
        super(GraphClient, self).__init__(session, timeout=timeout, retry_deadline=retry_deadline, sleep=sleep, clock=clock)
        self.tokens = token_provider
        self.graph_url = graph_url.rstrip("/")
        self.base = self.graph_url + "/v1.0"
        self.replication_timeout = replication_timeout
        self.replication_waits = 0
        self.batch_item_retries = 0
        self.batched_calls = 0
        self._coalescer = None

    # -- the request loop's parts (_client.ServiceClient) ------------------------------------------------------------------

    def authorization(self):
        return "Bearer " + self.tokens.token(self.graph_url)

    def forget_token(self):
        self.tokens.forget(self.graph_url)

    def retry_delay(self, method, url, response, attempt, read):
        """A sub-request Graph throttled inside a ``$batch`` is not retried by the transport: it waits its own Retry-After
        (every worker waits with it, see ``pause``) and goes again in a later batch. Plain requests: the transport retried."""
        if isinstance(response, BatchedResponse) and _retryable(method, response.status_code):
            return _retry_after(response.headers)
        return None

    def retrying(self, method, url, response):
        with self._count_lock:
            self.batch_item_retries += 1

    def pause(self, seconds):
        gate = getattr(self.session, "gate", None)
        if gate is not None:
            gate.hold(seconds)
            gate.wait()
        else:
            self.sleep(seconds)

    # -- single requests -------------------------------------------------------------------------

    def _url(self, path):
        if path.startswith("https://") or path.startswith("http://"):
            return path
        return "%s/%s" % (self.base, path.lstrip("/"))

    def _send(self, method, url, params=None, body=None, headers=None):
        """One request straight to Graph (a fresh token after a 401), never gathered into a ``$batch``."""
        all_headers = dict(headers or {})
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        return self.send_once(method, url, headers=all_headers, params=params, data=json.dumps(body) if body is not None else None)

    def _transmit(self, method, url, headers=None, params=None, body=None):
        coalescer = self._coalescer
        if (coalescer is not None and url.startswith(self.base + "/") and not url.startswith(self.base + "/$batch")
                and coalescer.accepts()):
            return coalescer.call(method, url[len(self.base):], params, body, headers)
        return self._send(method, url, params=params, body=body, headers=headers)

    def request(self, method, path, params=None, body=None, headers=None, lagging=False, conflict_ok=False):
        """One Graph call; returns the decoded body (or None for 204/empty).

        ``lagging=True`` marks a call on an object this run has just created or restored: a 404 is
        then replication lag and the call is repeated with backoff for up to ``replication_timeout`` seconds.
        """
        url = self._url(path)

        # A $batch of reads only reads (batch() sends the people's reads that way too).
        read = method.upper() == "GET" or (path == "$batch" and all((r.get("method") or "GET").upper() == "GET" for r in (body or {}).get("requests", [])))

        def call():
            return self.send(method, url, headers=headers, transmit=self._transmit, read=read, params=params, body=body)

        if lagging:
            waited = wait_until(call, self.replication_timeout, done=lambda r: r.status_code != 404, sleep=self.sleep, clock=self.clock,
                                jitter=0.5)
            with self._count_lock:
                self.replication_waits += waited.polls
            response = waited.value
        else:
            response = call()
        status = response.status_code
        if status < 400:
            response.was_retried = retried(response) or getattr(response, "was_retried", False)
            return _decode(response)
        error = GraphError.from_response(status, _decode(response), response.headers, method, path)
        if _retryable(method, status):
            error.message = "%s (gave up: another try would pass retry_deadline)" % error.message
        raise error

    def get(self, path, params=None, headers=None, lagging=False):
        return self.request("GET", path, params=params, headers=headers, lagging=lagging)

    def get_or_none(self, path, params=None):
        """GET that answers None for 404, recognised by status code, never by message text."""
        try:
            return self.get(path, params=params)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path, params=None, headers=None, limit=None):
        """All items of a collection, following ``@odata.nextLink`` verbatim with the same headers."""
        items = []
        url = path
        page_params = params
        while url:
            page = self.request("GET", url, params=page_params, headers=headers) or {}
            items.extend(page.get("value", []))
            if limit is not None and len(items) >= limit:
                return items[:limit]
            url = page.get("@odata.nextLink")
            page_params = None  # the link carries every query option already
        return items

    # -- $batch -------------------------------------------------------------------------------------

    def batching(self):
        """A context in which the calls of concurrent workers are gathered into ``$batch`` requests."""
        return _Batching(self)

    def batch(self, calls, deadline=300):
        """Run independent calls through ``$batch`` (20 per request).

        ``calls`` is a list of dicts ``{id, method, url, body?, headers?}``; urls are relative to
        ``/v1.0``. Returns ``{id: {"status", "headers", "body"}}``. Sub-requests answered 429, 503 or
        504 are sent again in a later batch after the longest ``Retry-After`` among them, until the
        deadline; what still fails is returned with its status for the caller to report.
        """
        pending = list(calls)
        results = {}
        started = self.clock()
        while pending:
            retry_later = []
            wait = 0.0
            for offset in range(0, len(pending), BATCH_LIMIT):
                chunk = pending[offset:offset + BATCH_LIMIT]
                by_id = dict((c["id"], c) for c in chunk)
                payload = {"requests": [_batch_request(c) for c in chunk]}
                answer = self.request("POST", "$batch", body=payload) or {}
                for item in answer.get("responses", []):
                    call = by_id.get(str(item.get("id")))
                    if call is None:
                        continue
                    status = int(item.get("status", 0))
                    if _retryable(call.get("method") or "GET", status) and self.clock() - started < deadline:
                        retry_later.append(call)
                        wait = max(wait, _retry_after(item.get("headers")))
                        continue
                    results[call["id"]] = {"status": status, "headers": item.get("headers") or {}, "body": item.get("body")}
                for missing in sorted(set(by_id) - set(results) - set(c["id"] for c in retry_later)):
                    if self.clock() - started < deadline:
                        retry_later.append(by_id[missing])
                    else:
                        results[missing] = {"status": 0, "headers": {}, "body": None}
            if retry_later:
                self.batch_item_retries += len(retry_later)
                self.sleep(wait or 1.0)
            pending = retry_later
        return results


class BatchedResponse:
    """One sub-response of a ``$batch``, shaped like the ``requests`` response the caller would have had."""

    def __init__(self, status, headers, body, retried_batch=False):
        self.status_code = int(status or 0)
        self.headers = CaseInsensitiveDict(headers or {})
        self._body = body
        self.was_retried = retried_batch
        if body is None:
            self.content = b""
        elif isinstance(body, (dict, list)):
            self.content = json.dumps(body).encode("utf-8")
            if "Content-Type" not in self.headers:
                self.headers["Content-Type"] = "application/json"
        else:
            self.content = str(body).encode("utf-8")
        self.text = self.content.decode("utf-8")
        self.raw = None

    def json(self):
        if isinstance(self._body, (dict, list)):
            return self._body
        return json.loads(self.text)


class _Batching:
    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.client._coalescer = _Coalescer(self.client)
        return self.client._coalescer

    def __exit__(self, *exc_info):
        self.client._coalescer = None
        return False


class _Coalescer:
    """Gathers the single calls of concurrent workers into ``$batch`` requests of up to 20.

    The first worker to find no batch forming leads: it waits ``BATCH_WINDOW`` (or until 20 calls are
    queued, or until every worker still applying has a call queued: waiting longer could not fill the
    batch), sends the batch, hands every worker its sub-response, and leads the next batch if calls
    are waiting. A call made by the leader itself while it sends (its own token refresh, say) goes
    out directly.
    """

    def __init__(self, client, window=BATCH_WINDOW, limit=BATCH_LIMIT):
        self.client = client
        self.window = window
        self.limit = limit
        self.cond = threading.Condition()
        self.queue = []
        self.leading = False
        self.workers = 0
        self.local = threading.local()

    def worker(self):
        """Counts a worker in while it applies (``with coalescer.worker(): apply()``)."""
        return _Worker(self)

    def accepts(self):
        return not getattr(self.local, "sending", False)

    def call(self, method, path, params, body, headers):
        if params:
            path = path + ("&" if "?" in path else "?") + urlencode(params, doseq=True)
        slot = {"call": {"method": method, "url": path, "body": body, "headers": headers}, "done": False}
        with self.cond:
            slot["call"]["id"] = str(len(self.queue) + 1)
            self.queue.append(slot)
            self.cond.notify_all()
            while not slot["done"]:
                if not self.leading:
                    self.leading = True
                    try:
                        self._lead()
                    finally:
                        self.leading = False
                        self.cond.notify_all()
                else:
                    self.cond.wait(1.0)
        if "error" in slot:
            raise slot["error"]
        return slot["response"]

    def _lead(self):
        """Called with the condition held; returns once this leader's batch (and any queued after) went."""
        deadline = self.client.clock() + self.window
        while len(self.queue) < min(self.limit, max(1, self.workers)):
            remaining = deadline - self.client.clock()
            if remaining <= 0:
                break
            self.cond.wait(remaining)
        chunk, self.queue = self.queue[:self.limit], self.queue[self.limit:]
        for index, slot in enumerate(chunk):
            slot["call"]["id"] = str(index + 1)
        self.cond.release()
        try:
            self._send(chunk)
        finally:
            self.cond.acquire()
        for slot in chunk:
            slot["done"] = True
        for index, slot in enumerate(self.queue):
            slot["call"]["id"] = str(index + 1)
        self.cond.notify_all()

    def _send(self, chunk):
        self.local.sending = True
        try:
            payload = {"requests": [_batch_request(slot["call"]) for slot in chunk]}
            response = self.client._send("POST", self.client.base + "/$batch", body=payload)
            with self.client._count_lock:
                self.client.batched_calls += len(chunk)
            if response.status_code >= 400:
                # The batch itself was refused (a 401 after the fresh token, a 400): every call gets that answer.
                for slot in chunk:
                    slot["response"] = BatchedResponse(response.status_code, dict(response.headers), _decode(response))
                return
            answers = dict((str(item.get("id")), item) for item in (_decode(response) or {}).get("responses", []))
            was_retried = retried(response)
            for slot in chunk:
                item = answers.get(slot["call"]["id"])
                if item is None:  # no answer for this call: as a 503, so that it is sent again
                    slot["response"] = BatchedResponse(503, {"Retry-After": "1"}, None)
                else:
                    slot["response"] = BatchedResponse(item.get("status"), item.get("headers") or {}, item.get("body"), was_retried)
        except Exception as exc:  # the transport gave up: every caller raises what it would have raised alone
            for slot in chunk:
                slot["error"] = exc
        finally:
            self.local.sending = False


class _Worker:
    def __init__(self, coalescer):
        self.coalescer = coalescer

    def __enter__(self):
        with self.coalescer.cond:
            self.coalescer.workers += 1

    def __exit__(self, *exc_info):
        with self.coalescer.cond:
            self.coalescer.workers -= 1
            self.coalescer.cond.notify_all()
        return False


def _batch_request(call):
    request = {"id": str(call["id"]), "method": call["method"], "url": "/" + call["url"].lstrip("/")}
    headers = dict(call.get("headers") or {})
    if call.get("body") is not None:
        headers.setdefault("Content-Type", "application/json")
        request["body"] = call["body"]
    if headers:
        request["headers"] = headers
    return request


def _retry_after(headers):
    value = _header(headers or {}, "Retry-After")
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 2.0


def _retryable(method, status):
    """Throttling and unavailability always; a 500 or 502 only on a read (a write may have been done)."""
    return status in RETRY_STATUSES or (status in READ_RETRY_STATUSES and (method or "").upper() in SAFE_METHODS)


def _decode(response):
    if response.status_code == 204 or not response.content:
        return None
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:
        try:
            return response.json()
        except ValueError:
            return {"error": {"code": "InvalidResponse", "message": "The service answered with malformed JSON."}}
    return response.text
