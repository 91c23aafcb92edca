# -*- coding: utf-8 -*-
"""The retry policy against a real local HTTP server that answers from a script."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import json
import os
import socket
import ssl
import threading
import time

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _http
from tests.sandbox.server import make_tls


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
    ca = make_tls(str(tmp_path))["ca.pem"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/elsewhere/bundle.pem")
    session = _http.build_session(ca_path=str(ca))
    settings = session.merge_environment_settings("https://graph.example/v1.0/users", {}, None, None, None)
    assert settings["verify"] == ca
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


# -- what retrying cannot mend: named at once, never retried ------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path):
    """A local HTTPS server with a certificate of the sandbox's kind; yields (its CA, another CA, url, seen requests)."""
    (tmp_path / "ours").mkdir()
    (tmp_path / "other").mkdir()
    ours = make_tls(str(tmp_path / "ours"))
    other = make_tls(str(tmp_path / "other"))
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ours["server.pem"], ours["server-key.pem"])
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield ours["ca.pem"], other["ca.pem"], "https://127.0.0.1:%d" % httpd.server_address[1], seen
    httpd.shutdown()


def test_an_untrusted_certificate_is_named_and_not_retried(tls_server):
    ours, other, url, seen = tls_server
    assert _http.build_session(ca_path=ours).get(url + "/x", timeout=5).status_code == 200
    stats = _http.RetryStats()
    session = _http.build_session(ca_path=other, stats=stats)
    started = time.monotonic()
    with pytest.raises(_http.requests.exceptions.SSLError) as caught:
        session.get(url + "/x", timeout=5)
    assert time.monotonic() - started < 3 and stats.count == 0
    problem = _http.explain(caught.value)
    assert problem.kind == "tls"
    assert str(problem).startswith("TLS verification failed for %s: its certificate is not trusted" % url)
    assert "ca_path" in str(problem) and "certificate verify failed" in str(problem)


def test_a_refused_connection_is_named_and_not_retried():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stats = _http.RetryStats()
    session = _http.build_session(stats=stats)
    started = time.monotonic()
    with pytest.raises(_http.requests.ConnectionError) as caught:
        session.get("http://127.0.0.1:%d/x" % port, timeout=5)
    assert time.monotonic() - started < 3 and stats.count == 0
    problem = _http.unreachable(caught.value)
    assert problem.kind == "refused" and str(problem).startswith("http://127.0.0.1:%d refused the connection" % port)


def test_an_unknown_host_is_named_and_not_retried(monkeypatch):
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    stats = _http.RetryStats()
    with pytest.raises(_http.requests.ConnectionError) as caught:
        _http.build_session(stats=stats).get("https://login.example.invalid/x", timeout=5)
    assert stats.count == 0
    problem = _http.unreachable(caught.value)
    assert problem.kind == "dns" and str(problem).startswith("Cannot resolve the host of https://login.example.invalid (DNS)")


def test_a_reset_is_still_retried(server):
    script, url = server
    script.answers = [("reset", {}), (200, {})]
    stats = _http.RetryStats()
    assert _http.build_session(backoff_factor=0.01, stats=stats).get(url + "/x", timeout=5).status_code == 200
    assert stats.count == 1 and _http.failure_kind(ConnectionResetError()) is None


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist"),
    (b"not a certificate", "holds no usable PEM certificate"),
])
def test_a_ca_path_that_cannot_serve_is_refused_before_any_request(tmp_path, content, expected):
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(_http.TransportError) as caught:
        _http.build_session(ca_path=str(path))
    assert caught.value.kind == "ca_file" and expected in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_ca_path_is_refused(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(_http.TransportError) as caught:
        _http.build_session(ca_path=str(path))
    assert "cannot be read" in str(caught.value)
