# -*- coding: utf-8 -*-
"""Tokens per credential and discovery once per run: _auth.TokenProvider with the real msal against the sandbox's login
service, and the Practice Protect token cache against its token endpoint."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _auth, _http
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectAuthError, PracticeProtectClient
from tests.sandbox.client import start_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("auth-sandbox")))
    yield running
    running.stop()


def sign_ins(sandbox, since):
    entries = [e for e in sandbox.log() if e["seq"] > since]
    return ([e["path"] for e in entries if e["service"] == "login" and e["path"].endswith("/token")],
            [e["path"] for e in entries if e["service"] == "login" and "well-known" in e["path"]],
            [e["path"] for e in entries if e["service"] == "pp" and e["path"].startswith("/oauth2/token/")])


def last(sandbox):
    log = sandbox.log()
    return log[-1]["seq"] if log else 0


def provider(sandbox, cache, secret=None):
    env = sandbox.env
    session = _http.build_session(ca_path=env["M365_CA_PATH"], retry_deadline=5)
    return _auth.TokenProvider(env["M365_TENANT_ID"], env["M365_CLIENT_ID"], env["M365_AUTHORITY_URL"], session,
                               client_secret=secret or env["M365_CLIENT_SECRET"], token_cache_path=cache)


def test_fingerprint_is_slow_salted_and_never_the_secret():
    one = _auth.credential_fingerprint("s3cret-value", "https://login", "tenant", "client")
    assert one == _auth.credential_fingerprint("s3cret-value", "https://LOGIN", "tenant", "client")
    assert one != _auth.credential_fingerprint("s3cret-valuE", "https://login", "tenant", "client")
    assert one != _auth.credential_fingerprint("s3cret-value", "https://login", "tenant", "other-client")
    assert "s3cret" not in one and len(one) == 32


def test_each_process_of_a_run_discovers_once_and_signs_in_once(sandbox, tmp_path):
    cache = str(tmp_path / "cache" / "m365.json")
    mark = last(sandbox)
    for task in range(3):  # three tasks: three processes, each with its own provider
        tokens = provider(sandbox, cache)
        assert tokens.token(sandbox.env["M365_GRAPH_URL"]), task
    token_requests, discovery, pp_tokens = sign_ins(sandbox, mark)
    assert len(token_requests) == 1 and len(discovery) == 1 and not pp_tokens
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600 and stat.S_IMODE(os.stat(os.path.dirname(cache)).st_mode) == 0o700
    data = json.load(open(cache))
    assert list(data["msal"]) == [tokens.fingerprint] and len(data["discovery"]) == 1
    assert sandbox.env["M365_CLIENT_SECRET"] not in open(cache).read()


def test_a_wrong_secret_finds_no_token_of_the_right_one(sandbox, tmp_path):
    cache = str(tmp_path / "m365.json")
    provider(sandbox, cache).token(sandbox.env["M365_GRAPH_URL"])
    wrong = provider(sandbox, cache, secret="not-the-secret-at-all")
    with pytest.raises(_auth.AuthError) as caught:
        wrong.token(sandbox.env["M365_GRAPH_URL"])
    assert "AADSTS7000215" in caught.value.message and caught.value.error_code == "invalid_client"
    assert "not-the-secret-at-all" not in open(cache).read()


def test_a_cache_of_another_format_is_only_a_cache(sandbox, tmp_path):
    cache = tmp_path / "m365.json"
    cache.write_text('{"AccessToken": {}}')  # what the file held before it was keyed by credential
    assert provider(sandbox, str(cache)).token(sandbox.env["M365_GRAPH_URL"])
    assert json.loads(cache.read_text())["format"] == _auth.CACHE_FORMAT


def pp(sandbox, cache, secret=None):
    env = sandbox.env
    session = _http.build_session(ca_path=env["PP_CA_PATH"], retry_deadline=5)
    return PracticeProtectClient(session, env["PP_URL"], env["PP_APP_ID"], env["PP_CLIENT_ID"], secret or env["PP_CLIENT_SECRET"],
                                 token_cache_path=cache)


def test_practice_protect_token_is_fetched_once_per_run_and_kept_per_credential(sandbox, tmp_path):
    cache = str(tmp_path / "pp.json")
    mark = last(sandbox)
    for task in range(3):
        assert pp(sandbox, cache).call("whoami") is not None, task
    assert len(sign_ins(sandbox, mark)[2]) == 1
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600 and sandbox.env["PP_CLIENT_SECRET"] not in open(cache).read()
    mark = last(sandbox)
    with pytest.raises(PracticeProtectAuthError) as caught:
        pp(sandbox, cache, secret="not-the-pp-secret").call("whoami")
    assert caught.value.error_id == "invalid_client" and len(sign_ins(sandbox, mark)[2]) == 1
    # A token the service no longer takes (a 401) is dropped from the file too, and one fresh token is fetched.
    data = json.load(open(cache))
    for entry in data["practice_protect"].values():
        entry["access_token"] = "revoked"
    with open(cache, "w") as handle:
        json.dump(data, handle)
    mark = last(sandbox)
    assert pp(sandbox, cache).call("whoami") is not None
    assert len(sign_ins(sandbox, mark)[2]) == 1 and "revoked" not in open(cache).read()


def test_a_refused_token_is_dropped_for_its_own_resource_only(sandbox, tmp_path):
    cache = str(tmp_path / "m365.json")
    tokens = provider(sandbox, cache)
    graph, exchange = sandbox.env["M365_GRAPH_URL"], sandbox.env["M365_EXCHANGE_URL"]
    first_graph, first_exchange = tokens.token(graph), tokens.token(exchange)
    tokens.forget(graph)  # Graph answered 401
    again = provider(sandbox, cache)  # the next task
    mark = last(sandbox)
    assert again.token(exchange) == first_exchange and again.token(graph) != first_graph
    assert len(sign_ins(sandbox, mark)[0]) == 1
