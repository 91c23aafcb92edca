"""Graph's sendMail and revokeSignInSessions in the sandbox, and the two session properties they and password changes move.
A real server in a child process, real HTTP."""

import json
import uuid

import pytest
import requests

from tests.sandbox.client import start_sandbox

SARAH = "sarah.jones@northwindacct.com"  # seeded with an E3 licence, so with a mailbox
SARAH_ID = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
SARAH_CREATED = "2024-03-01T09:30:00Z"
ADMIN = "admin@northwindacct.onmicrosoft.com"  # seeded without a licence: no mailbox
PASSWORD = "Sandbox-Passw0rd!"
BODY_TEXT = "Your first password is Xy7-secret-Pw!; change it when you sign in."
SESSIONS = "signInSessionsValidFromDateTime,lastPasswordChangeDateTime,createdDateTime"
NO_RECIPIENTS = "At least one recipient isn't valid., A message can't be sent because it contains no recipients."


class Graph:
    def __init__(self, sandbox, token):
        self.base = sandbox.env["M365_GRAPH_URL"] + "/v1.0"
        self.http = requests.Session()
        self.http.verify = sandbox.env["M365_CA_PATH"]
        self.http.trust_env = False
        self.http.headers["Authorization"] = "Bearer " + token

    def get(self, path):
        return self.http.get(self.base + path, timeout=30)

    def post(self, path, body=None):
        return self.http.post(self.base + path, json=body, timeout=30)

    def patch(self, path, body):
        return self.http.patch(self.base + path, json=body, timeout=30)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("sandbox")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.reset()


@pytest.fixture
def graph(sandbox):
    return Graph(sandbox, sandbox.token())


def app_graph(sandbox, roles):
    app = sandbox.add_app("test app %s" % uuid.uuid4(), roles)
    return Graph(sandbox, sandbox.token(app["client_id"], app["client_secret"]))


def message(to=("jane.personal@example.org",), cc=(), subject="Welcome to Northwind", content=BODY_TEXT, content_type="Text", **extra):
    msg = {"subject": subject, "body": {"contentType": content_type, "content": content},
           "toRecipients": [{"emailAddress": {"address": address}} for address in to]}
    if cc:
        msg["ccRecipients"] = [{"emailAddress": {"address": address}} for address in cc]
    msg.update(extra)
    return msg


def error_of(response):
    return response.json()["error"]


# --------------------------------------------------------------------------------------------------------------
# sendMail


def test_send_mail_is_accepted_stored_and_logged_without_values(sandbox, graph):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    answer = graph.post("/users/%s/sendMail" % SARAH, {"message": message(cc=["tom.baker@northwindacct.com"]), "saveToSentItems": False})
    assert answer.status_code == 202, answer.text
    assert answer.content == b""
    [sent] = sandbox.mail()
    assert sent["sender"] == SARAH and sent["senderId"] == SARAH_ID and sent["from"] == SARAH
    assert sent["toRecipients"] == ["jane.personal@example.org"] and sent["ccRecipients"] == ["tom.baker@northwindacct.com"]
    assert sent["bccRecipients"] == []
    assert sent["subject"] == "Welcome to Northwind" and sent["contentType"] == "text" and sent["content"] == BODY_TEXT
    assert sent["saveToSentItems"] is False and sent["appId"] == sandbox.env["M365_CLIENT_ID"]
    assert sent["internetMessageId"].startswith("<") and sent["internetMessageId"].endswith(".prod.outlook.com>")
    assert sent["sentDateTime"].endswith("Z")
    [entry] = [e for e in sandbox.log(since=mark) if e["service"] == "graph"]
    assert entry["method"] == "POST" and entry["path"] == "/v1.0/users/%s/sendMail" % SARAH and entry["status"] == 202
    assert entry["write"] is True and sorted(entry["body_keys"]) == ["message", "saveToSentItems"]
    logged = json.dumps(sandbox.log())
    for value in (BODY_TEXT, "Welcome to Northwind", "jane.personal@example.org"):
        assert value not in logged
    assert "sent_mail" not in json.dumps(sandbox.state()) and BODY_TEXT not in json.dumps(sandbox.state())


def test_send_mail_by_id_html_cc_only_default_save_and_qualified_name(sandbox, graph):
    body = {"message": {"subject": "Hi", "body": {"contentType": "HTML", "content": "<p>Hello</p>"},
                        "ccRecipients": [{"emailAddress": {"address": "manager@example.org", "name": "Manager"}}]}}
    assert graph.post("/users/%s/sendMail" % SARAH_ID, body).status_code == 202
    assert graph.post("/users/%s/microsoft.graph.sendMail" % SARAH, body).status_code == 202
    assert graph.post("/users/%s/sendmail" % SARAH, body).status_code == 202  # segments are case-insensitive
    sent = sandbox.mail()
    assert len(sent) == 3
    assert all(m["contentType"] == "html" and m["toRecipients"] == [] and m["ccRecipients"] == ["manager@example.org"] for m in sent)
    assert all(m["saveToSentItems"] is True for m in sent)  # the documented default


def test_send_mail_needs_mail_send_and_answers_like_outlook(sandbox):
    reader = app_graph(sandbox, ["User.ReadWrite.All", "Directory.ReadWrite.All"])
    denied = reader.post("/users/%s/sendMail" % SARAH, {"message": message()})
    assert denied.status_code == 403
    assert error_of(denied)["code"] == "ErrorAccessDenied"
    assert error_of(denied)["message"] == "Access is denied. Check credentials and try again."
    sender = app_graph(sandbox, ["Mail.Send"])
    assert sender.post("/users/%s/sendMail" % SARAH, {"message": message()}).status_code == 202
    assert sender.get("/users/%s" % SARAH).status_code == 403  # Mail.Send reads no user
    assert len(sandbox.mail()) == 1


def test_sender_must_be_a_user_with_a_mailbox(sandbox, graph):
    missing = graph.post("/users/nobody@northwindacct.com/sendMail", {"message": message()})
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "ErrorInvalidUser"
    assert error_of(missing)["message"] == "The requested user 'nobody@northwindacct.com' is invalid."
    unlicensed = graph.post("/users/%s/sendMail" % ADMIN, {"message": message()})
    assert unlicensed.status_code == 404
    assert error_of(unlicensed)["code"] == "MailboxNotEnabledForRESTAPI"
    assert error_of(unlicensed)["message"] == "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
    # A licence was assigned but Exchange has not provisioned the mailbox yet.
    sandbox.configure(mailbox_provisioning_delay_s=600)
    created = graph.post("/users", {"accountEnabled": True, "displayName": "New Hire", "mailNickname": "new.hire", "usageLocation": "AU",
                                    "userPrincipalName": "new.hire@northwindacct.com",
                                    "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD}})
    assert created.status_code == 201
    licensed = graph.post("/users/new.hire@northwindacct.com/assignLicense",
                          {"addLicenses": [{"skuId": "f245ecc8-75af-4f8e-b61f-27d8114de5f3", "disabledPlans": []}], "removeLicenses": []})
    assert licensed.status_code == 200
    waiting = graph.post("/users/new.hire@northwindacct.com/sendMail", {"message": message()})
    assert waiting.status_code == 404 and error_of(waiting)["code"] == "MailboxNotEnabledForRESTAPI"
    sandbox.configure(mailbox_provisioning_delay_s=0)
    assert graph.post("/users/new.hire@northwindacct.com/sendMail", {"message": message()}).status_code == 202
    assert [m["sender"] for m in sandbox.mail()] == ["new.hire@northwindacct.com"]


@pytest.mark.parametrize("body, status, code, text", [
    ({"message": message(to=())}, 400, "ErrorInvalidRecipients", NO_RECIPIENTS),
    ({"message": {"subject": "x"}}, 400, "ErrorInvalidRecipients", NO_RECIPIENTS),
    ({"message": message(to=["bad"])}, 400, "ErrorInvalidRecipients",
     "At least one recipient isn't valid., Recipient \"bad\" isn't resolved. All recipients must be resolved before a message can be "
     "submitted."),
    ({"message": message(cc=["also bad@example.org"])}, 400, "ErrorInvalidRecipients", None),
    ({"message": message(to=[""])}, 400, "ErrorInvalidRecipients", None),
    ({"saveToSentItems": True}, 400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty."),
    ({"message": message(), "saveToSentItems": "no"}, 400, "RequestBodyRead", None),
    ({"message": message(), "copyToSelf": True}, 400, "RequestBodyRead", None),
    ({"message": message(colour="blue")}, 400, "RequestBodyRead", None),
    ({"message": message(content_type="markdown")}, 400, "RequestBodyRead", "Requested value 'markdown' was not found."),
    ({"message": dict(message(), toRecipients="jane.personal@example.org")}, 400, "RequestBodyRead", None),
    ({"message": dict(message(), toRecipients=["jane.personal@example.org"])}, 400, "RequestBodyRead", None),
])
def test_malformed_messages_are_refused_and_not_stored(sandbox, graph, body, status, code, text):
    answer = graph.post("/users/%s/sendMail" % SARAH, body)
    assert answer.status_code == status, answer.text
    assert error_of(answer)["code"] == code
    if text is not None:
        assert error_of(answer)["message"] == text
    assert sandbox.mail() == []


def test_empty_body_and_batch(sandbox, graph):
    empty = graph.http.post(graph.base + "/users/%s/sendMail" % SARAH, data=b"", headers={"Content-Type": "application/json"}, timeout=30)
    assert empty.status_code == 400
    batch = graph.post("/$batch", {"requests": [
        {"id": "1", "method": "POST", "url": "/users/%s/sendMail" % SARAH, "headers": {"Content-Type": "application/json"},
         "body": {"message": message()}},
        {"id": "2", "method": "POST", "url": "/users/%s/sendMail" % ADMIN, "headers": {"Content-Type": "application/json"},
         "body": {"message": message()}},
    ]})
    assert batch.status_code == 200
    statuses = dict((item["id"], item["status"]) for item in batch.json()["responses"])
    assert statuses == {"1": 202, "2": 404}
    assert len(sandbox.mail()) == 1
    writes = [e for e in sandbox.writes() if e["path"].endswith("/sendMail")]
    assert [e["status"] for e in writes] == [400, 202, 404]  # every attempt is a write in the log, refused or not
    assert writes[0]["batch"] is None and writes[1]["batch"] == writes[2]["batch"] is not None


def test_mail_control_endpoint_needs_the_admin_token(sandbox):
    http = requests.Session()
    http.verify = sandbox.env["M365_CA_PATH"]
    http.trust_env = False
    url = sandbox.env["SANDBOX_CONTROL_URL"] + "/_sandbox/mail"
    assert http.get(url, timeout=30).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer " + sandbox.env["SANDBOX_ADMIN_TOKEN"]}, timeout=30).json() == {"messages": []}


def test_reset_clears_the_outbox(sandbox, graph):
    assert graph.post("/users/%s/sendMail" % SARAH, {"message": message()}).status_code == 202
    assert len(sandbox.mail()) == 1
    sandbox.reset()
    assert sandbox.mail() == []


# --------------------------------------------------------------------------------------------------------------
# revokeSignInSessions and the session properties


def sessions(graph, key):
    answer = graph.get("/users/%s?$select=%s" % (key, SESSIONS))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_session_properties_only_on_select_and_seeded_from_creation(graph):
    plain = graph.get("/users/%s" % SARAH).json()
    assert "signInSessionsValidFromDateTime" not in plain and "lastPasswordChangeDateTime" not in plain
    seeded = sessions(graph, SARAH)
    assert seeded["signInSessionsValidFromDateTime"] == seeded["lastPasswordChangeDateTime"] == SARAH_CREATED
    listed = graph.get("/users?$select=userPrincipalName,%s" % SESSIONS).json()["value"]
    assert all(u["signInSessionsValidFromDateTime"] == u["lastPasswordChangeDateTime"] == u["createdDateTime"] for u in listed)


def test_create_sets_both_to_creation_and_a_password_change_moves_both(graph):
    created = graph.post("/users", {"accountEnabled": True, "displayName": "New Hire", "mailNickname": "new.hire",
                                    "userPrincipalName": "new.hire@northwindacct.com",
                                    "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD}})
    assert created.status_code == 201
    fresh = sessions(graph, "new.hire@northwindacct.com")
    assert fresh["signInSessionsValidFromDateTime"] == fresh["lastPasswordChangeDateTime"] == fresh["createdDateTime"]
    # Other changes leave both alone; a new password moves both (Entra revokes sessions on a password change).
    assert graph.patch("/users/%s" % SARAH, {"jobTitle": "Partner"}).status_code == 204
    assert sessions(graph, SARAH)["lastPasswordChangeDateTime"] == SARAH_CREATED
    assert graph.patch("/users/%s" % SARAH, {"passwordProfile": {"forceChangePasswordNextSignIn": False}}).status_code == 204
    assert sessions(graph, SARAH)["lastPasswordChangeDateTime"] == SARAH_CREATED  # no password, no password event
    assert graph.patch("/users/%s" % SARAH, {"passwordProfile": {"password": "An0ther-Passw0rd!"}}).status_code == 204
    changed = sessions(graph, SARAH)
    assert changed["signInSessionsValidFromDateTime"] == changed["lastPasswordChangeDateTime"] > SARAH_CREATED
    refused = graph.patch("/users/%s" % SARAH, {"signInSessionsValidFromDateTime": "2030-01-01T00:00:00Z"})
    assert refused.status_code == 400  # read-only


def test_revoke_sign_in_sessions(sandbox, graph):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    answer = graph.post("/users/%s/revokeSignInSessions" % SARAH)
    assert answer.status_code == 200
    assert answer.json() == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True}
    after = sessions(graph, SARAH)
    assert after["signInSessionsValidFromDateTime"] > after["lastPasswordChangeDateTime"] == SARAH_CREATED
    [entry] = [e for e in sandbox.writes(since=mark) if e["service"] == "graph"]
    assert entry["method"] == "POST" and entry["path"] == "/v1.0/users/%s/revokeSignInSessions" % SARAH and entry["status"] == 200
    by_id = graph.post("/users/%s/microsoft.graph.revokeSignInSessions" % SARAH_ID, {})
    assert by_id.status_code == 200 and by_id.json()["value"] is True
    missing = graph.post("/users/nobody@northwindacct.com/revokeSignInSessions")
    assert missing.status_code == 404 and error_of(missing)["code"] == "Request_ResourceNotFound"


@pytest.mark.parametrize("roles, allowed", [
    (["User.RevokeSessions.All"], True),
    (["User.ReadWrite.All"], True),
    (["Directory.ReadWrite.All"], True),
    (["User.Read.All", "User.EnableDisableAccount.All", "Mail.Send"], False),
])
def test_revoke_permissions(sandbox, roles, allowed):
    answer = app_graph(sandbox, roles).post("/users/%s/revokeSignInSessions" % SARAH)
    if allowed:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 403
        assert error_of(answer) == dict(error_of(answer), code="Authorization_RequestDenied",
                                        message="Insufficient privileges to complete the operation.")


def test_seed_may_give_a_session_history(sandbox, graph):
    sandbox.seed([{"userPrincipalName": "leaver@northwindacct.com", "accountEnabled": False, "createdDateTime": "2024-01-01T00:00:00Z",
                   "lastPasswordChangeDateTime": "2024-02-01T00:00:00Z", "signInSessionsValidFromDateTime": "2024-03-01T00:00:00Z"}])
    seeded = sessions(graph, "leaver@northwindacct.com")
    assert seeded == dict(seeded, createdDateTime="2024-01-01T00:00:00Z", lastPasswordChangeDateTime="2024-02-01T00:00:00Z",
                          signInSessionsValidFromDateTime="2024-03-01T00:00:00Z")
