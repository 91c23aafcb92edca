# -*- coding: utf-8 -*-
"""The sandbox's records for the secret scan (tests/sandbox/secret_log.py): the writer on its own, then one real
sandbox recording the secrets it issues and receives and its request log without the token endpoints."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from tests.sandbox import secret_log
from tests.sandbox.client import start_sandbox


def read(path):
    with open(str(path)) as handle:
        return [json.loads(line) for line in handle]


def test_records_go_to_the_state_dir_and_the_env_file_once_each(tmp_path):
    extra = tmp_path / "output" / "secrets" / "gw0.jsonl"  # its directories do not exist yet
    log = secret_log.SecretLog(str(tmp_path / "state"), environ={secret_log.SECRETS_ENV: str(extra)})
    os.makedirs(str(tmp_path / "state"))
    assert log.record("client_secret", "a-long-client-secret", "app 1") == "a-long-client-secret"
    log.record("client_secret", "a-long-client-secret", "app 1 again")  # the same secret: one record
    log.record("password", "Short1!", "too short to scan for")
    log.record("password", None, "no value")
    expected = [{"kind": "client_secret", "value": "a-long-client-secret", "where": "app 1"}]
    assert read(tmp_path / "state" / secret_log.SECRETS_FILE) == expected
    assert read(extra) == expected
    # Append-only: a second sandbox (a second writer) adds to the same file.
    secret_log.SecretLog(None, environ={secret_log.SECRETS_ENV: str(extra)}).record("password", "Another-Passw0rd", "pp")
    assert [r["value"] for r in read(extra)] == ["a-long-client-secret", "Another-Passw0rd"]


def test_passwords_are_found_at_any_depth_and_only_under_password_keys(tmp_path):
    log = secret_log.SecretLog(str(tmp_path))
    sub_body = {"passwordProfile": {"password": "Batch-Passw0rd", "forceChangePasswordNextSignIn": True},
                "passwordPolicies": "DisablePasswordExpiration"}
    log.record_passwords({"requests": [{"id": "1", "body": sub_body}]}, "graph POST /v1.0/$batch")
    log.record_passwords({"Password": "Create-Passw0rd", "confirmPassword": "Create-Passw0rd", "PasswordNeverExpire": "sometimes"}, "pp CreateUser")
    log.record_passwords({"ID": "x", "newPassword": "Reset-Passw0rd1"}, "pp ResetUserPassword")
    log.record_passwords(["not", "a", "body"], "list")
    records = read(tmp_path / secret_log.SECRETS_FILE)
    values = [(r["kind"], r["value"]) for r in records]
    assert values == [("password", "Batch-Passw0rd"), ("password", "Create-Passw0rd"), ("password", "Reset-Passw0rd1")]
    assert records[0]["where"] == "graph POST /v1.0/$batch: password"


def test_a_private_key_is_recorded_whole_and_line_by_line(tmp_path):
    body = ["A" * 64, "B" * 64, "C" * 12]
    pem = "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % "\n".join(body)
    log = secret_log.SecretLog(str(tmp_path))
    log.record_private_key(pem.encode("ascii"), "certificate of app 2")
    records = read(tmp_path / secret_log.SECRETS_FILE)
    values = [(r["kind"], r["value"]) for r in records]
    assert values == [("certificate_key", pem), ("certificate_key_line", "A" * 64), ("certificate_key_line", "B" * 64)]


def test_request_entries_are_written_when_answered_and_token_calls_never(tmp_path):
    secret_log.configure(str(tmp_path), environ={secret_log.REQUESTS_ENV: str(tmp_path / "copy.jsonl")})
    try:
        token = secret_log.begin_request()
        entry = {"seq": 1, "path": "/v1.0/users", "status": None}
        secret_log.request_logged(entry)
        secret_log.request_logged({"seq": 2, "path": "/%s/oauth2/v2.0/token" % "tenant-id", "status": 200})
        secret_log.request_logged({"seq": 3, "path": "/oauth2/token/ansible", "status": 200})
        assert not (tmp_path / secret_log.REQUESTS_FILE).exists()  # not answered yet
        entry["status"] = 201  # set after the entry was logged, as the services do
        secret_log.end_request(token)
        secret_log.request_logged({"seq": 4, "path": "/Core/GetUser", "status": 200})  # outside a request: at once
    finally:
        secret_log.configure(None, environ={})
    expected = [{"seq": 1, "path": "/v1.0/users", "status": 201}, {"seq": 4, "path": "/Core/GetUser", "status": 200}]
    assert read(tmp_path / secret_log.REQUESTS_FILE) == expected
    assert read(tmp_path / "copy.jsonl") == expected


def test_a_sandbox_records_what_it_issues_and_receives(tmp_path):
    secrets_file = tmp_path / "output" / "secrets.jsonl"
    requests_file = tmp_path / "output" / "requests.jsonl"
    env = dict(os.environ, SANDBOX_SECRETS_FILE=str(secrets_file), SANDBOX_REQUEST_LOG_FILE=str(requests_file))
    sandbox = start_sandbox(str(tmp_path / "state"), env=env)
    try:
        app = sandbox.add_app("secret scan test", ["User.ReadWrite.All"])
        graph = sandbox.graph_session(app["client_id"], app["client_secret"])
        answer = graph.post(sandbox.graph_url + "/users", json={
            "accountEnabled": True, "displayName": "Scan Test", "mailNickname": "scan.test", "userPrincipalName": "scan.test@northwindacct.com",
            "passwordProfile": {"password": "Scan-Test-Passw0rd!", "forceChangePasswordNextSignIn": True}}, timeout=30)
        assert answer.status_code == 201, answer.text
    finally:
        sandbox.stop()
    records = read(secrets_file)
    assert read(tmp_path / "state" / secret_log.SECRETS_FILE) == records
    by_value = dict((r["value"], r) for r in records)
    assert by_value[app["client_secret"]]["kind"] == "client_secret" and app["client_id"] in by_value[app["client_secret"]]["where"]
    assert by_value[sandbox.env["M365_CLIENT_SECRET"]]["kind"] == "client_secret"
    assert by_value[sandbox.env["PP_CLIENT_SECRET"]]["kind"] == "pp_client_secret"
    assert by_value["Scan-Test-Passw0rd!"]["where"] == "graph POST /v1.0/users: password"
    with open(sandbox.env["M365_CERT_CLIENT_CERTIFICATE_PATH"]) as handle:
        key = handle.read().split("-----END PRIVATE KEY-----")[0] + "-----END PRIVATE KEY-----\n"
    assert by_value[key]["kind"] == "certificate_key"
    entries = read(requests_file)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [("POST", "/v1.0/users", 201)]
    assert entries[0]["body_keys"] and "passwordProfile" in entries[0]["body_keys"]
    assert "Scan-Test-Passw0rd!" not in requests_file.read_text()
