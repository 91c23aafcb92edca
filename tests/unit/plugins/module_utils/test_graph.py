# -*- coding: utf-8 -*-
"""GraphClient logic (paging, 401, replication lag, $batch) with a scripted session."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphClient, GraphError, odata_string, quote_key


class FakeResponse:
    def __init__(self, status, body=None, headers=None):
        self.status_code = status
        self._body = body
        self.headers = {"Content-Type": "application/json"}
        self.headers.update(headers or {})
        self.content = b"" if body is None else json.dumps(body).encode()
        self.raw = None

    def json(self):
        return self._body

    @property
    def text(self):
        return self.content.decode()


class FakeSession:
    def __init__(self, handler):
        self.handler = handler
        self.calls = []

    def request(self, method, url, params=None, headers=None, data=None, timeout=None):
        body = json.loads(data) if data else None
        self.calls.append({"method": method, "url": url, "params": params, "headers": headers, "body": body})
        return self.handler(method, url, params, headers, body)


class FakeTokens:
    def __init__(self):
        self.issued = 0
        self.forgotten = 0

    def token(self, resource):
        self.issued += 1
        return "token-%d" % (self.issued - self.forgotten * 0)

    def forget(self):
        self.forgotten += 1


def client(handler, **kw):
    session = FakeSession(handler)
    sleeps = []
    graph = GraphClient(session, FakeTokens(), graph_url="https://graph.example", sleep=sleeps.append, **kw)
    return graph, session, sleeps


def error(status, code, message="m"):
    return FakeResponse(status, {"error": {"code": code, "message": message, "innerError": {"request-id": "rid-1"}}})


def test_paging_follows_next_link_verbatim_and_resends_headers():
    pages = {
        "https://graph.example/v1.0/users": {"value": [{"id": 1}, {"id": 2}], "@odata.nextLink": "https://graph.example/v1.0/users?$skiptoken=A&$top=2"},
        "https://graph.example/v1.0/users?$skiptoken=A&$top=2": {"value": [{"id": 3}]},
    }
    graph, session, _ = client(lambda m, url, p, h, b: FakeResponse(200, pages[url]))
    items = graph.list("users", params={"$top": "2"}, headers={"ConsistencyLevel": "eventual"})
    assert [i["id"] for i in items] == [1, 2, 3]
    assert session.calls[0]["params"] == {"$top": "2"} and session.calls[1]["params"] is None
    assert all(c["headers"]["ConsistencyLevel"] == "eventual" for c in session.calls)


def test_error_fields_come_from_the_body():
    body = {"error": {"code": "Request_BadRequest", "message": "Another object...",
                      "details": [{"code": "ObjectConflict", "target": "userPrincipalName"}], "innerError": {"request-id": "abc"}}}
    graph, _, _ = client(lambda *a: FakeResponse(400, body))
    with pytest.raises(GraphError) as err:
        graph.request("POST", "users", body={})
    assert (err.value.status, err.value.code, err.value.request_id) == (400, "Request_BadRequest", "abc")
    assert err.value.detail_codes() == ["ObjectConflict"]


def test_401_gets_one_fresh_token():
    answers = [error(401, "InvalidAuthenticationToken"), FakeResponse(200, {"id": "x"})]
    graph, session, _ = client(lambda *a: answers.pop(0))
    assert graph.get("users/x") == {"id": "x"}
    assert graph.tokens.forgotten == 1
    assert session.calls[0]["headers"]["Authorization"] != session.calls[1]["headers"]["Authorization"]
    answers[:] = [error(401, "InvalidAuthenticationToken"), error(401, "InvalidAuthenticationToken")]
    with pytest.raises(GraphError) as err:
        graph.get("users/x")
    assert err.value.status == 401


def test_404_is_replication_lag_only_for_objects_just_written():
    answers = [error(404, "Request_ResourceNotFound")] * 3 + [FakeResponse(204)]
    graph, session, sleeps = client(lambda *a: answers.pop(0))
    assert graph.request("PATCH", "users/new", body={"a": 1}, lagging=True) is None
    assert graph.replication_waits == 3 and len(sleeps) == 3
    answers[:] = [error(404, "Request_ResourceNotFound")]
    with pytest.raises(GraphError):
        graph.request("PATCH", "users/old", body={"a": 1})


def test_replication_wait_is_bounded():
    clock = iter(range(0, 1000, 50))
    graph, _, _ = client(lambda *a: error(404, "Request_ResourceNotFound"), replication_timeout=120)
    graph.clock = lambda: next(clock)
    with pytest.raises(GraphError) as err:
        graph.request("PATCH", "users/new", body={}, lagging=True)
    assert err.value.status == 404 and graph.replication_waits == 2


def test_get_or_none():
    graph, _, _ = client(lambda *a: error(404, "Request_ResourceNotFound", "any wording at all"))
    assert graph.get_or_none("users/x") is None


def test_batch_chunks_matches_ids_and_retries_throttled_items():
    seen_batches = []
    throttled_once = set()

    def handler(method, url, params, headers, body):
        assert url == "https://graph.example/v1.0/$batch"
        seen_batches.append([r["id"] for r in body["requests"]])
        responses = []
        for req in reversed(body["requests"]):  # out of order, as Graph may answer
            if req["id"] in ("3", "27") and req["id"] not in throttled_once:
                throttled_once.add(req["id"])
                responses.append({"id": req["id"], "status": 429, "headers": {"Retry-After": "7"}})
            else:
                responses.append({"id": req["id"], "status": 201, "body": {"echo": req["body"]["n"]}})
        return FakeResponse(200, {"responses": responses})

    graph, _, sleeps = client(handler)
    calls = [{"id": str(i), "method": "POST", "url": "users", "body": {"n": i}} for i in range(45)]
    results = graph.batch(calls)
    assert [len(b) for b in seen_batches] == [20, 20, 5, 2]
    assert sorted(seen_batches[3]) == ["27", "3"]
    assert sleeps == [7.0]
    assert all(results[str(i)]["body"] == {"echo": i} and results[str(i)]["status"] == 201 for i in range(45))
    assert graph.batch_item_retries == 2


def test_batch_request_shape():
    captured = {}

    def handler(method, url, params, headers, body):
        captured.update(body)
        return FakeResponse(200, {"responses": [{"id": "a", "status": 204}]})

    graph, _, _ = client(handler)
    graph.batch([{"id": "a", "method": "PATCH", "url": "users/1", "body": {"x": 1}}])
    assert captured == {"requests": [{"id": "a", "method": "PATCH", "url": "/users/1", "body": {"x": 1},
                                      "headers": {"Content-Type": "application/json"}}]}


def test_literals():
    assert odata_string("o'brien@x.com") == "'o''brien@x.com'"
    assert quote_key("o'brien#1@x.com") == "o%27brien%231@x.com"
