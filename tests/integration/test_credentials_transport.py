# -*- coding: utf-8 -*-
"""Credentials and transport, tried as a new user would: tokens and discovery fetched once per run and reused through the
persisted caches, a wrong secret refused even with a warm cache, and TLS, DNS and connection failures named at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import stat
import time

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse

from tests.integration.support import ROOT, play, playbook
from tests.sandbox.server import make_tls

INVENTORY = os.path.join(ROOT, "inventory", "example")
JANE = {"name": "user", "register": "user", "practiceprotect.m365.m365_user": {
    "user": "jane.citizen@northwindacct.com", "given_name": "Jane", "surname": "Citizen"}}
LOOKUP = {"name": "user", "register": "user", "practiceprotect.m365.m365_user_info": {"users": ["sarah.jones@northwindacct.com"]}}
PP_LOOKUP = {"name": "pp", "register": "pp", "check_mode": True,
             "practiceprotect.m365.pp_role_member": {"role": "Portal Access", "members": {"add": ["sarah.jones@northwindacct.com"]}}}


def sign_ins(sandbox, since):
    """The run's requests to the token endpoints and to OpenID discovery, by service."""
    entries = [e for e in sandbox.log() if e["seq"] > since]
    return {
        "m365_tokens": len([e for e in entries if e["service"] == "login" and e["path"].endswith("/oauth2/v2.0/token")]),
        "discovery": len([e for e in entries if e["service"] == "login" and "well-known" in e["path"]]),
        "pp_tokens": len([e for e in entries if e["service"] == "pp" and e["path"].startswith("/oauth2/token/")]),
    }


def last(sandbox):
    log = sandbox.log()
    return log[-1]["seq"] if log else 0


def test_a_run_signs_in_once_per_service_and_a_rerun_not_at_all(sandbox, run_playbook, tmp_path):
    mark = last(sandbox)
    run_playbook(playbook("service_account.yml"), extra_vars={"service_account_purpose": "federation",
                                                              "service_account_federation_enabled": True}, expect_rc=0)
    run_playbook(playbook("onboard.yml"), inventory=INVENTORY, expect_rc=0)
    # Both deployment types, every step a module run of its own: one discovery, a token for Graph and one for Exchange,
    # one Practice Protect token.
    assert sign_ins(sandbox, mark) == {"m365_tokens": 2, "discovery": 1, "pp_tokens": 1}
    mark = last(sandbox)
    run_playbook(playbook("onboard.yml"), inventory=INVENTORY, expect_rc=0)
    assert sign_ins(sandbox, mark) == {"m365_tokens": 0, "discovery": 0, "pp_tokens": 0}
    # The cache files are the user's alone and hold no secret.
    for name in ("token-cache.json", "pp-token-cache.json"):
        path = tmp_path / name
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
        text = path.read_text()
        assert sandbox.env["M365_CLIENT_SECRET"] not in text and sandbox.env["PP_CLIENT_SECRET"] not in text
    assert len(json.loads((tmp_path / "pp-token-cache.json").read_text())["practice_protect"]) == 1


def test_a_wrong_secret_with_a_warm_cache_is_refused_before_any_write(sandbox, run_playbook):
    run_playbook(play(LOOKUP), expect_rc=0)  # the right secret warms the cache
    mark = last(sandbox)
    run = run_playbook(play(JANE), env={"M365_CLIENT_SECRET": "a-mistyped-secret-value-789"})
    assert run.rc == 2
    message = run.result("user")["msg"]
    assert message.startswith("Sign-in as the application failed for ") and "AADSTS7000215" in message
    assert sandbox.writes(since=mark) == [] and sign_ins(sandbox, mark)["m365_tokens"] == 1
    assert "a-mistyped-secret-value-789" not in run.stdout


def test_a_wrong_practice_protect_secret_with_a_warm_cache_is_refused(sandbox, run_playbook):
    run_playbook(play(PP_LOOKUP), expect_rc=0)
    mark = last(sandbox)
    run = run_playbook(play(PP_LOOKUP), env={"PP_CLIENT_SECRET": "a-mistyped-pp-secret-456"})
    assert run.rc == 2 and run.result("pp")["error_code"] == "invalid_client"
    assert sign_ins(sandbox, mark)["pp_tokens"] == 1


def test_an_untrusted_ca_is_named_at_once_and_the_certificate_is_not_blamed(sandbox, run_playbook, tmp_path):
    other = make_tls(str(tmp_path))["ca.pem"]  # a CA that did not sign the sandbox's certificate
    started = time.monotonic()
    run = run_playbook(play(LOOKUP, PP_LOOKUP), env={"M365_CA_PATH": other, "PP_CA_PATH": other})
    assert run.rc == 2 and time.monotonic() - started < 60
    message = run.result("user")["msg"]
    authority = urlparse(sandbox.env["M365_AUTHORITY_URL"])
    assert message.startswith("TLS verification failed for %s://%s: its certificate is not trusted" % (authority.scheme, authority.netloc))
    assert "not trusted" in message and "client_certificate_path" not in message
    assert run.result("user")["error_code"] == "tls"


def test_a_missing_ca_file_is_named(sandbox, run_playbook, tmp_path):
    run = run_playbook(play(LOOKUP), env={"M365_CA_PATH": str(tmp_path / "no-such-ca.pem")})
    assert run.rc == 2
    assert run.result("user")["msg"] == ("ca_path %s does not exist: give the PEM file of the CA to trust (M365_CA_PATH or "
                                         "PP_CA_PATH)." % (tmp_path / "no-such-ca.pem"))


def test_an_unreachable_login_url_is_named_at_once(sandbox, run_playbook):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    run = run_playbook(play(LOOKUP), env={"M365_AUTHORITY_URL": "https://127.0.0.1:%d" % port})
    assert run.rc == 2 and time.monotonic() - started < 60
    result = run.result("user")
    assert result["msg"].startswith("https://127.0.0.1:%d refused the connection" % port) and result["error_code"] == "refused"
    assert "client_certificate_path" not in result["msg"]
