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


def paged(rows, page_size, count, full_count=False):
    """The answers of a Redrock read of ``rows`` in pages: ``count`` "total" or "page" (what Count holds), with FullCount or not."""
    answers = []
    for start in range(0, len(rows) + 1, page_size):
        items = rows[start:start + page_size]
        result = {"Count": len(rows) if count == "total" else len(items), "Results": [{"Row": r} for r in items]}
        if full_count:
            result["FullCount"] = len(rows)
        answers.append((200, ok(result)))
    return answers


@pytest.mark.parametrize("count", ["total", "page"])
@pytest.mark.parametrize("full_count", [False, True])
@pytest.mark.parametrize("total", [0, 1, 4, 5, 6])
def test_redrock_reads_every_row_whatever_count_means(count, full_count, total):
    """Count as the total or as this page's rows (reference section 12), with or without FullCount: every row, no page twice."""
    rows = [{"ID": str(i)} for i in range(total)]
    session, c = client([TOKEN] + paged(rows, 2, count, full_count))
    assert c.query("SELECT ID FROM User", page_size=2) == rows
    pages = [kwargs["json"]["Args"]["PageNumber"] for url, kwargs in session.sent if url.endswith("/Redrock/query")]
    needed = total // 2 + 1  # a short (or empty) last page
    if total % 2 == 0 and total and (full_count or (count == "total" and total != 2)):
        needed -= 1  # a total says the last full page was the last
    assert pages == list(range(1, needed + 1))


def test_redrock_page_size_count_never_stops_after_the_first_page():
    """The failure the reference warns of: Count equal to the page's rows once read as the total stopped after one page."""
    rows = [{"ID": str(i)} for i in range(5)]
    _, c = client([TOKEN] + paged(rows, 2, "page"))
    assert len(c.query("SELECT ID FROM User", page_size=2)) == 5


def test_redrock_done_rules():
    assert pp.redrock_done({}, 0, 0, 2) and pp.redrock_done({}, 1, 3, 2)
    assert not pp.redrock_done({"Count": 2}, 2, 2, 2)  # Count may be this page's rows: read on
    assert pp.redrock_done({"Count": 4}, 2, 4, 2) and not pp.redrock_done({"Count": 4}, 2, 2, 2)
    assert pp.redrock_done({"Count": 2, "FullCount": 4}, 2, 4, 2) and not pp.redrock_done({"Count": 2, "FullCount": 6}, 2, 4, 2)
    assert not pp.redrock_done({"Count": True, "FullCount": "4"}, 2, 4, 2)  # not numbers: only the page decides


def test_sql_string_doubles_quotes():
    assert pp.sql_string("o'brien@x.com") == "'o''brien@x.com'"


def test_every_path_is_in_the_one_table():
    """The client's paths in ENDPOINTS; the job API's (UNCONFIRMED) only in _pp_sync.JOB_PATHS."""
    from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_sync
    assert all(path.startswith("/") for path in pp.ENDPOINTS.values())
    assert not [p for p in pp.ENDPOINTS.values() if p.startswith("/Provisioning/")]
    assert _pp_sync.JOB_PATHS == {"start": "/Provisioning/StartSync", "status": "/Provisioning/GetJobStatus"}


def test_a_call_by_path_says_whether_it_writes():
    session, c = client([TOKEN, (200, ok({"JobId": "j-1"})), (404, {"success": False, "Message": "The API /X/Start does not exist."})])
    assert c.call("start", {"AppKey": "a"}, path="/Tenant/StartJob", write=True) == {"JobId": "j-1"}
    assert session.sent[1][0] == "https://pp.example/Tenant/StartJob"
    with pytest.raises(pp.PracticeProtectError) as caught:
        c.call("start", {}, path="/X/Start", write=True)
    assert caught.value.write is True and caught.value.status == 404 and caught.value.path == "/X/Start"
    refused = pp.PracticeProtectError("You are not authorized.", error_id="Unauthorized", status=200, path="/X/Start")
    refused.write = True
    assert "lacks an admin right for /X/Start; see docs/permissions.md" in pp.describe(refused, ("Application Management",))[0]


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


@pytest.mark.parametrize("key", ["RoleName", "Name"])
def test_a_users_roles_are_read_whether_rows_carry_role_name_or_name(key):
    """idaptive-api-demo reads Row.RoleName, hashicorp/vault-plugin-auth-centrify Row.Name (reference section 12)."""
    rows = [{"Row": {key: "Tax Team", "AdministrativeRights": []}},
            {"Row": {key: "System Administrator", "AdministrativeRights": [{"Description": "User Management"}, "Role Management"]}}]
    session, c = client([TOKEN, (200, ok({"Results": rows, "Count": 2}))])
    assert c.user_roles("u-1") == [{"Name": "Tax Team", "AdministrativeRights": []},
                                   {"Name": "System Administrator", "AdministrativeRights": ["User Management", "Role Management"]}]
    assert session.sent[1][1]["params"] == {"id": "u-1"}
