# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Graph v1.0 client: requests, errors, paging, ``$batch`` and replication lag.

Transport retries (429/503/504, resets) live in ``_http``; this layer adds what is specific to
Graph: the error body, a fresh token after a 401, following ``@odata.nextLink`` verbatim with the
``ConsistencyLevel`` header re-sent on every page, ``$batch`` with results matched by id and
throttled sub-requests retried after their own ``Retry-After``, and 404s on objects this run has
just written treated as replication lag.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import random
import time

from ansible_collections.practiceprotect.m365.plugins.module_utils._http import RETRY_STATUSES, retried

try:
    import requests
except ImportError:  # pragma: no cover - reported by the module
    requests = None

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

BATCH_LIMIT = 20


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


class GraphClient:
    """Calls Graph for one module run. ``token_provider.token(resource)`` supplies the bearer."""

    def __init__(self, session, token_provider, graph_url="https://graph.microsoft.com", timeout=30,
                 replication_timeout=120, sleep=time.sleep, clock=time.monotonic):
        self.session = session
        self.tokens = token_provider
        self.graph_url = graph_url.rstrip("/")
        self.base = self.graph_url + "/v1.0"
        self.timeout = timeout
        self.replication_timeout = replication_timeout
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = 0
        self.replication_waits = 0
        self.batch_item_retries = 0

    # -- single requests -------------------------------------------------------------------------

    def _url(self, path):
        if path.startswith("https://") or path.startswith("http://"):
            return path
        return "%s/%s" % (self.base, path.lstrip("/"))

    def _send(self, method, url, params=None, body=None, headers=None):
        for attempt in (1, 2):
            all_headers = {"Authorization": "Bearer " + self.tokens.token(self.graph_url), "Accept": "application/json"}
            if headers:
                all_headers.update(headers)
            if body is not None:
                all_headers["Content-Type"] = "application/json"
            self.requests_sent += 1
            response = self.session.request(method, url, params=params, headers=all_headers,
                                            data=json.dumps(body) if body is not None else None, timeout=self.timeout)
            if response.status_code == 401 and attempt == 1:
                self.tokens.forget()  # expired or revoked mid-run: one fresh token, then give up
                continue
            return response
        return response  # pragma: no cover - loop always returns

    def request(self, method, path, params=None, body=None, headers=None, lagging=False, conflict_ok=False):
        """One Graph call; returns the decoded body (or None for 204/empty).

        ``lagging=True`` marks a call on an object this run has just created or restored: a 404 is
        then replication lag and is retried with backoff for up to ``replication_timeout`` seconds.
        """
        url = self._url(path)
        started = self.clock()
        delay = 1.0
        while True:
            response = self._send(method, url, params=params, body=body, headers=headers)
            status = response.status_code
            if status < 400:
                response.was_retried = retried(response)
                return _decode(response)
            error = GraphError.from_response(status, _decode(response), response.headers, method, path)
            if status == 404 and lagging and self.clock() - started < self.replication_timeout:
                self.replication_waits += 1
                self.sleep(delay + random.uniform(0, delay / 2))  # nosec - jitter, not security
                delay = min(delay * 2, 15)
                continue
            if status in RETRY_STATUSES:
                error.message = "%s (gave up after retrying within the deadline)" % error.message
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
                    if status in RETRY_STATUSES and self.clock() - started < deadline:
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
