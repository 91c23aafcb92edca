# -*- coding: utf-8 -*-
"""The Practice Protect client: token, envelope, errors, 401 refresh and Redrock paging, against a scripted session."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _practice_protect as pp


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.content = json.dumps(body).encode() if body is not None else b""
        self._body = body

    def json(self):
        if self._body is None:
            raise ValueError("no body")
        return self._body


class Session:
    """Answers from a script: a list of (status, body); records each request."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def request(self, method, url, **kwargs):
        assert method == "POST"
        return self.post(url, **kwargs)

    def post(self, url, **kwargs):
        self.sent.append((url, kwargs))
        status, body = self.answers.pop(0)
        return Response(status, body)


def ok(result):
    return {"success": True, "Result": result, "Message": None, "ErrorID": None}


TOKEN = (200, {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})


def client(answers):
    session = Session(answers)
    return session, pp.PracticeProtectClient(session, "https://pp.example/", "ansible", "svc@x.com", "s3cret", scope="all")


def test_token_is_basic_client_credentials_and_cached():
    session, c = client([TOKEN, (200, ok({"A": 1})), (200, ok(None))])
    assert c.call("whoami") == {"A": 1}
    assert c.call("update_role", {"Name": "r"}) is None
    url, kwargs = session.sent[0]
    assert url == "https://pp.example/oauth2/token/ansible"
    assert kwargs["auth"] == ("svc@x.com", "s3cret") and kwargs["data"] == {"grant_type": "client_credentials", "scope": "all"}
    url, kwargs = session.sent[1]
    assert url == "https://pp.example/Security/Whoami" and kwargs["json"] == {}
    assert kwargs["headers"]["Authorization"] == "Bearer tok-1" and kwargs["headers"]["X-CENTRIFY-NATIVE-CLIENT"] == "true"
    assert [u for u, _ in session.sent].count("https://pp.example/oauth2/token/ansible") == 1
    assert c.requests_sent == 3


def test_business_error_carries_error_id_and_message():
    _, c = client([TOKEN, (200, {"success": False, "Result": None, "Message": "User name x is already in use.", "ErrorID": "DuplicateUserName"})])
    with pytest.raises(pp.PracticeProtectError) as caught:
        c.call("create_user", {"Name": "x"})
    error = caught.value
    assert error.message == "User name x is already in use." and error.error_id == "DuplicateUserName"
    assert error.status == 200 and error.path == "/CDirectoryService/CreateUser"
    assert error.as_dict() == {"error_code": "DuplicateUserName", "status": 200, "request_id": None, "path": "/CDirectoryService/CreateUser"}


def test_transport_errors_and_malformed_answers():
    _, c = client([TOKEN, (404, {"success": False, "Message": "The API /x does not exist.", "ErrorID": "NotFound"})])
    with pytest.raises(pp.PracticeProtectError) as caught:
        c.call("whoami")
    assert caught.value.status == 404 and caught.value.error_id == "NotFound"
    assert caught.value.message == "Practice Protect answered HTTP 404 for /Security/Whoami: The API /x does not exist."
    _, c = client([TOKEN, (200, {"value": []})])
    with pytest.raises(pp.PracticeProtectError, match="not its JSON envelope"):
        c.call("whoami")
    _, c = client([TOKEN, (503, None)])
    with pytest.raises(pp.PracticeProtectError, match="still did after retrying"):
        c.call("whoami")


def test_a_401_gets_one_fresh_token():
    session, c = client([TOKEN, (401, None), (200, {"access_token": "tok-2", "expires_in": 3600}), (200, ok(True))])
    assert c.call("whoami") is True
    assert session.sent[-1][1]["headers"]["Authorization"] == "Bearer tok-2"
    _, c = client([TOKEN, (401, None), TOKEN, (401, {"success": False, "Message": "Unauthorized", "ErrorID": "Unauthenticated"})])
    with pytest.raises(pp.PracticeProtectError) as caught:
        c.call("whoami")
    assert caught.value.status == 401


def test_refused_credentials_never_echo_the_secret():
    _, c = client([(401, {"error": "invalid_client", "error_description": "Client authentication failed."})])
    with pytest.raises(pp.PracticeProtectAuthError) as caught:
        c.call("whoami")
    assert caught.value.error_id == "invalid_client" and caught.value.status == 401
    assert "s3cret" not in caught.value.message and "invalid_client: Client authentication failed." in caught.value.message


def test_redrock_follows_pages():
    rows = [{"ID": str(i)} for i in range(5)]

    def page(items, count=5):
        return (200, ok({"Count": count, "Results": [{"Row": r} for r in items]}))

    session, c = client([TOKEN, page(rows[:2]), page(rows[2:4]), page(rows[4:])])
    assert c.query("SELECT ID FROM User", page_size=2) == rows
    sent = [kwargs["json"]["Args"]["PageNumber"] for url, kwargs in session.sent if url.endswith("/Redrock/query")]
    assert sent == [1, 2, 3]
    # a short page ends the loop even without a Count
    _, c = client([TOKEN, (200, ok({"Results": [{"Row": {"ID": "1"}}]}))])
    assert c.query("SELECT ID FROM User", page_size=2) == [{"ID": "1"}]


def test_sql_string_doubles_quotes():
    assert pp.sql_string("o'brien@x.com") == "'o''brien@x.com'"


def test_every_path_is_in_the_one_table():
    assert pp.ENDPOINTS["start_sync"] == "/Provisioning/StartSync"
    assert all(path.startswith("/") for path in pp.ENDPOINTS.values())


def test_a_json_error_without_the_envelope_keeps_error_id_a_string():
    with pytest.raises(pp.PracticeProtectError) as caught:
        pp.envelope_result(502, {"error": {"code": "BadGateway", "message": "upstream"}}, "/Redrock/query")
    assert caught.value.error_id is None and caught.value.status == 502
    assert str(caught.value) == "Practice Protect answered HTTP 502 for /Redrock/query."
    with pytest.raises(pp.PracticeProtectError) as caught:
        pp.envelope_result(400, {"error": "invalid_request", "error_description": "bad"}, "/oauth2/token/x")
    assert caught.value.error_id == "invalid_request" and str(caught.value).endswith(": bad")


def test_reads_are_repeated_after_a_500_and_writes_are_not(monkeypatch):
    session, c = client([TOKEN, (500, None), (200, ok({"Results": [], "Count": 0})), (500, None)])
    slept = []
    c.sleep = slept.append
    assert c.query("SELECT ID FROM Role") == []
    with pytest.raises(pp.PracticeProtectError) as caught:
        c.call("update_role", {"Name": "r"})
    assert caught.value.status == 500
    assert [url.rsplit("/", 2)[-2:] for url, _ in session.sent[1:]] == [["Redrock", "query"]] * 2 + [["Roles", "UpdateRole"]]
