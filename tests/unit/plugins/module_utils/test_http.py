# -*- coding: utf-8 -*-
"""The retry policy against a real local HTTP server that answers from a script."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import json
import socket
import threading
import time

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _http


class Script:
    def __init__(self, answers):
        self.answers = list(answers)
        self.seen = []


@pytest.fixture
def server():
    script = Script([])

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.seen.append((self.command, self.path))
            status, headers = script.answers.pop(0) if script.answers else (200, {})
            if status == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
                return
            body = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield script, "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


def test_retry_after_is_honoured_and_counted(server):
    script, url = server
    script.answers = [(429, {"Retry-After": "1"}), (503, {}), (200, {})]
    stats = _http.RetryStats()
    session = _http.build_session(stats=stats, backoff_factor=0.01)
    started = time.monotonic()
    response = session.post(url + "/v1.0/users", json={"a": 1}, timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0  # waited for Retry-After
    assert stats.count == 2 and [e["status"] for e in stats.events] == [429, 503]
    assert _http.retried(response)
    assert len(script.seen) == 3 and script.seen[0] == ("POST", "/v1.0/users")


def test_connection_reset_is_retried_for_writes(server):
    script, url = server
    script.answers = [("reset", {}), (200, {})]
    stats = _http.RetryStats()
    session = _http.build_session(stats=stats, backoff_factor=0.01)
    assert session.patch(url + "/x", json={}, timeout=5).status_code == 200
    assert stats.count == 1 and stats.events[0]["error"] is not None


def test_deadline_stops_a_storm(server):
    script, url = server
    script.answers = [(503, {"Retry-After": "2"})] * 20
    session = _http.build_session(retry_deadline=3, backoff_factor=0.01)
    started = time.monotonic()
    response = session.get(url + "/x", timeout=5)
    assert response.status_code == 503  # the last answer is handed back for the caller to report
    assert time.monotonic() - started < 3.5
    assert 1 <= len(script.seen) <= 3


def test_client_errors_are_not_retried(server):
    script, url = server
    script.answers = [(400, {}), (200, {})]
    session = _http.build_session(backoff_factor=0.01)
    assert session.get(url + "/x", timeout=5).status_code == 400
    assert len(script.seen) == 1


def test_ca_path_wins_over_requests_ca_bundle(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("placeholder")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/elsewhere/bundle.pem")
    session = _http.build_session(ca_path=str(ca))
    settings = session.merge_environment_settings("https://graph.example/v1.0/users", {}, None, None, None)
    assert settings["verify"] == str(ca)
    session = _http.build_session(validate_certs=False)
    assert session.merge_environment_settings("https://graph.example/", {}, None, None, None)["verify"] is False
    # without a ca_path the environment's bundle still applies, as requests users expect
    session = _http.build_session()
    assert session.merge_environment_settings("https://graph.example/", {}, None, None, None)["verify"] == "/elsewhere/bundle.pem"


def test_a_429_holds_every_request_of_the_session_for_its_retry_after(server):
    script, url = server
    script.answers = [(429, {"Retry-After": "1"}), (200, {}), (200, {})]
    gate = _http.ThrottleGate()
    session = _http.build_session(backoff_factor=0.01, gate=gate)
    assert session.post(url + "/v1.0/users", json={}, timeout=5).status_code == 200
    assert gate.holds == 1 and gate.until > 0
    # Another worker's request made while the hold lasts waits for it; one made later goes at once.
    gate.hold(0.5)
    started = time.monotonic()
    assert session.get(url + "/v1.0/users", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.45


def test_the_gate_waits_only_for_what_is_left():
    now = [100.0]
    slept = []
    gate = _http.ThrottleGate(clock=lambda: now[0], sleep=slept.append)
    gate.wait()
    gate.hold(10)
    now[0] = 104.0
    gate.hold(2)  # a shorter hold never shortens the longer one
    gate.wait()
    assert slept == [6.0]


def test_a_500_or_502_is_retried_for_reads_only(server):
    script, url = server
    session = _http.build_session(backoff_factor=0.01)
    script.answers = [(500, {}), (502, {}), (200, {})]
    assert session.get(url + "/read", timeout=5).status_code == 200
    assert len(script.seen) == 3
    script.seen[:] = []
    script.answers = [(500, {}), (200, {})]
    assert session.post(url + "/write", json={}, timeout=5).status_code == 500  # the write may have been done: reported
    assert script.seen == [("POST", "/write")]


def test_a_single_attempt_is_not_sent_again_after_a_reset_but_still_waits_out_throttling(server):
    script, url = server
    stats = _http.RetryStats()
    session = _http.build_session(stats=stats, backoff_factor=0.01)
    script.answers = [("reset", {}), (200, {})]
    with session.single_attempt():
        with pytest.raises(_http.requests.ConnectionError):
            session.post(url + "/invite", json={}, timeout=5)
    assert script.seen == [("POST", "/invite")]
    script.seen[:] = []
    script.answers = [(429, {"Retry-After": "0"}), (503, {}), (504, {}), (200, {})]
    with _http.single_attempt(session):
        assert session.post(url + "/invite", json={}, timeout=5).status_code == 504  # a gateway timeout may hide a done call
    assert len(script.seen) == 3
    script.seen[:] = []
    script.answers = [("reset", {}), (200, {})]
    assert session.post(url + "/invite", json={}, timeout=5).status_code == 200  # outside the block: retried as before
    assert len(script.seen) == 2


def test_send_read_repeats_a_post_that_only_reads_while_it_answers_500():
    class Answer:
        def __init__(self, status):
            self.status_code = status

    answers = [Answer(500), Answer(502), Answer(200), Answer(500)]
    slept = []
    assert _http.send_read(lambda: answers.pop(0), sleep=slept.append).status_code == 200
    assert len(slept) == 2 and answers == [answers[0]]
    answers[:] = [Answer(500)] * 5
    assert _http.send_read(lambda: answers.pop(0), sleep=slept.append, attempts=3).status_code == 500
    assert len(answers) == 2
