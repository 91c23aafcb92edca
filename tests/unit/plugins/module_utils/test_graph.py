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

    def forget(self, resource=None):
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
    now = [0.0]
    graph, session, _ = client(lambda *a: error(404, "Request_ResourceNotFound"), replication_timeout=120)
    graph.clock = lambda: now[0]
    graph.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    with pytest.raises(GraphError) as err:
        graph.request("PATCH", "users/new", body={}, lagging=True)
    # Waits of 1, 2, 4, 8, 15, 15 ... seconds (plus jitter), the last one cut to end on the timeout.
    assert err.value.status == 404 and now[0] == 120.0
    assert 8 <= graph.replication_waits <= 12 and len(session.calls) == graph.replication_waits + 1


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


# -- calls of concurrent workers gathered into $batch ------------------------------------------------------------------


class BatchServer:
    """Answers $batch like Graph: every sub-request on its own; ``throttle_first`` ids get one 429 first."""

    def __init__(self, throttle_paths=()):
        self.batches = []
        self.direct = []
        self.throttle_paths = set(throttle_paths)
        self.created = []

    def __call__(self, method, url, params, headers, body):
        if url.endswith("/$batch"):
            self.batches.append([r["url"] for r in body["requests"]])
            responses = []
            for item in body["requests"]:
                if item["url"] in self.throttle_paths:
                    self.throttle_paths.discard(item["url"])
                    responses.append({"id": item["id"], "status": 429, "headers": {"Retry-After": "3"},
                                      "body": {"error": {"code": "TooManyRequests", "message": "later"}}})
                elif item["method"] == "POST":
                    self.created.append(item["body"]["userPrincipalName"])
                    responses.append({"id": item["id"], "status": 201, "headers": {"Content-Type": "application/json"},
                                      "body": {"id": "id-" + item["body"]["userPrincipalName"]}})
                elif item["url"].startswith("/users/missing"):
                    responses.append({"id": item["id"], "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}})
                else:
                    responses.append({"id": item["id"], "status": 204})
            return FakeResponse(200, {"responses": list(reversed(responses))})
        self.direct.append(url)
        return FakeResponse(200, {"value": []})


def run_workers(graph, jobs, workers):
    import threading
    results, errors = {}, {}

    def work(name, job):
        try:
            with coalescer.worker():
                results[name] = job()
        except GraphError as exc:
            errors[name] = exc

    with graph.batching() as coalescer:
        threads = [threading.Thread(target=work, args=(name, job)) for name, job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    return results, errors


def test_concurrent_calls_go_out_as_batches_of_at_most_20_and_each_worker_gets_its_own_answer():
    server = BatchServer()
    graph, session, _ = client(server)
    upns = ["u%02d@x.test" % i for i in range(45)]
    jobs = [(u, (lambda u=u: graph.request("POST", "users", body={"userPrincipalName": u}))) for u in upns]
    results, errors = run_workers(graph, jobs, 45)
    assert errors == {}
    assert dict((u, r["id"]) for u, r in results.items()) == dict((u, "id-" + u) for u in upns)
    assert sorted(server.created) == upns  # each call once
    assert all(len(b) <= 20 for b in server.batches) and len(server.batches) >= 3
    assert server.direct == [] and graph.batched_calls == 45
    assert len(session.calls) == len(server.batches)  # one HTTP request per batch


def test_a_sub_request_throttled_in_a_batch_waits_its_retry_after_and_is_sent_again():
    server = BatchServer(throttle_paths=["/users/b@x.test"])
    graph, _, sleeps = client(server)
    jobs = [(u, (lambda u=u: graph.request("PATCH", "users/%s" % u, body={"jobTitle": "x"}))) for u in ("a@x.test", "b@x.test")]
    results, errors = run_workers(graph, jobs, 2)
    assert errors == {} and set(results) == {"a@x.test", "b@x.test"}
    assert 3.0 in sleeps and graph.batch_item_retries == 1
    assert sum(b.count("/users/b@x.test") for b in server.batches) == 2


def test_a_batched_error_is_the_callers_own_graph_error_and_query_options_survive():
    server = BatchServer()
    graph, _, _ = client(server)
    jobs = [("missing", lambda: graph.request("GET", "users/missing", params={"$select": "id"})),
            ("ok", lambda: graph.request("DELETE", "users/there"))]
    results, errors = run_workers(graph, jobs, 2)
    assert errors["missing"].status == 404 and errors["missing"].code == "Request_ResourceNotFound"
    assert results == {"ok": None}
    assert any("/users/missing?%24select=id" in url for b in server.batches for url in b)


def test_without_batching_calls_go_out_alone():
    server = BatchServer()
    graph, _, _ = client(server)
    graph.request("DELETE", "users/there")
    assert server.batches == [] and server.direct == ["https://graph.example/v1.0/users/there"]
