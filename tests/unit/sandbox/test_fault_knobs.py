# -*- coding: utf-8 -*-
"""The sandbox knobs of the fault suite: a fault rule's Retry-After scaled by throttle.time_scale, tokens refused
before their expires_in (token_valid_s) by Graph, Exchange and Practice Protect, and replication lag on directory
role assignments."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from tests.sandbox import realism
from tests.sandbox.client import SandboxError, start_sandbox
from tests.sandbox.state import Tenant

SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
EXPIRED = "Lifetime validation failed, the token is expired."


# -- pure functions ------------------------------------------------------------------------------------------------

def test_token_valid_s_is_off_by_default_and_validated():
    assert realism.default_config()["token_valid_s"] is None
    assert realism.merge_config(realism.default_config(), {"token_valid_s": 2.5})["token_valid_s"] == 2.5
    assert realism.merge_config(realism.merge_config(realism.default_config(), {"token_valid_s": 2}), {"token_valid_s": None})["token_valid_s"] is None
    for bad in (0, -1, "soon", True):
        with pytest.raises(ValueError, match="token_valid_s"):
            realism.merge_config(realism.default_config(), {"token_valid_s": bad})


def test_token_refused_counts_from_the_issue_time():
    config = {"token_valid_s": 5}
    assert realism.token_refused(100.0, 104.9, config) is False
    assert realism.token_refused(100.0, 105.0, config) is True
    assert realism.token_refused(100.0, 10 ** 6, {"token_valid_s": None}) is False


@pytest.mark.parametrize("retry_after, scale, expected", [(30, 1.0, 30), (30, 0.1, 3), (30, 0.05, 2), (7, 0.01, 1), (0, 0.5, 0), (None, 0.1, None)])
def test_a_fault_rules_retry_after_is_scaled_and_rounded_up(retry_after, scale, expected):
    rule = {"kind": "status", "status": 429}
    if retry_after is not None:
        rule["retry_after"] = retry_after
    config = realism.merge_config(realism.default_config(), {"throttle": {"time_scale": scale}})
    assert realism.fault_retry_after(rule, config) == expected


# -- role assignments lag (the tenant with a clock the test moves) ------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_role_assignment_reads_lag_writes_while_the_directory_holds_the_current_set():
    clock = Clock()
    tenant = Tenant(clock=clock)
    tenant.config = realism.merge_config(tenant.config, {"replication_lag_s": 10})
    created = tenant.create_role_assignment(SARAH, USER_ADMIN)

    def ids(items):
        return [a["id"] for a in items if a["principalId"] == SARAH]

    assert ids(tenant.list_role_assignments()) == []  # readers do not see it yet
    with pytest.raises(Exception):
        tenant.get_role_assignment(created["id"])
    assert ids(tenant.list_role_assignments(current=True)) == [created["id"]]
    assert USER_ADMIN in tenant.principal_role_ids(SARAH)  # checks use the current set
    assert ids(tenant.dump()["role_assignments"]) == [created["id"]]
    with pytest.raises(Exception, match="conflicting"):
        tenant.create_role_assignment(SARAH, USER_ADMIN)  # uniqueness is the directory's own copy
    clock.now += 10
    assert ids(tenant.list_role_assignments()) == [created["id"]]
    assert tenant.get_role_assignment(created["id"])["roleDefinitionId"] == USER_ADMIN
    tenant.delete_role_assignment(created["id"])
    assert ids(tenant.list_role_assignments(current=True)) == []
    assert ids(tenant.list_role_assignments()) == [created["id"]]  # readers still see it for the lag
    clock.now += 10
    assert ids(tenant.list_role_assignments()) == []
    with pytest.raises(Exception):
        tenant.get_role_assignment(created["id"])


def test_role_assignments_do_not_lag_without_the_knob():
    tenant = Tenant(clock=Clock())
    created = tenant.create_role_assignment(SARAH, USER_ADMIN)
    assert created["id"] in [a["id"] for a in tenant.list_role_assignments()]
    tenant.delete_role_assignment(created["id"])
    assert created["id"] not in [a["id"] for a in tenant.list_role_assignments()]


# -- a real sandbox ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("sandbox")))
    yield running
    running.stop()


@pytest.fixture
def http(sandbox):
    sandbox.reset()
    session = requests.Session()
    session.verify = sandbox.env["M365_CA_PATH"]
    session.trust_env = False
    yield session
    session.close()


def test_an_injected_429_carries_the_scaled_retry_after(sandbox, http):
    sandbox.configure(throttle={"time_scale": 0.1}, faults=[{"path": "/users$", "kind": "status", "status": 429, "retry_after": 30, "count": 1},
                                                            {"path": "/groups$", "kind": "status", "status": 503, "count": 1}])
    headers = {"Authorization": "Bearer " + sandbox.token()}
    first = http.get(sandbox.graph_url + "/users", headers=headers, timeout=30)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert http.get(sandbox.graph_url + "/users", headers=headers, timeout=30).status_code == 200  # count 1
    unavailable = http.get(sandbox.graph_url + "/groups", headers=headers, timeout=30)
    assert unavailable.status_code == 503 and "Retry-After" not in unavailable.headers


def test_rejects_a_bad_token_valid_s_through_the_control_api(sandbox, http):
    with pytest.raises(SandboxError, match="token_valid_s"):
        sandbox.configure(token_valid_s=0)


def test_graph_refuses_a_token_past_token_valid_s_with_the_expired_token_answer(sandbox, http):
    headers = {"Authorization": "Bearer " + sandbox.token()}
    assert http.get(sandbox.graph_url + "/users", headers=headers, timeout=30).status_code == 200
    sandbox.configure(token_valid_s=0.001)  # the token above is now past its real validity, although expires_in said 3599 s
    refused = http.get(sandbox.graph_url + "/users", headers=headers, timeout=30)
    assert refused.status_code == 401, refused.text
    error = refused.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and error["message"] == EXPIRED
    sandbox.configure(token_valid_s=None)
    assert http.get(sandbox.graph_url + "/users", headers=headers, timeout=30).status_code == 200


def test_exchange_refuses_a_token_past_token_valid_s(sandbox, http):
    url = "%s/adminapi/beta/%s/InvokeCommand" % (sandbox.env["M365_EXCHANGE_URL"], sandbox.env["M365_TENANT_ID"])
    headers = {"Authorization": "Bearer " + sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"])}
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}
    assert http.post(url, json=body, headers=headers, timeout=30).status_code == 200
    sandbox.configure(token_valid_s=0.001)
    refused = http.post(url, json=body, headers=headers, timeout=30)
    assert refused.status_code == 401 and EXPIRED in refused.text, refused.text


def test_practice_protect_refuses_a_token_past_token_valid_s(sandbox, http):
    env = sandbox.env
    granted = http.post("%s/oauth2/token/%s" % (env["PP_URL"], env["PP_APP_ID"]), data={"grant_type": "client_credentials", "scope": "all"},
                        auth=(env["PP_CLIENT_ID"], env["PP_CLIENT_SECRET"]), timeout=30).json()
    assert granted["expires_in"] > 60
    headers = {"Authorization": "Bearer " + granted["access_token"]}
    whoami = http.post(env["PP_URL"] + "/Security/Whoami", json={}, headers=headers, timeout=30)
    assert whoami.status_code == 200 and whoami.json()["success"] is True
    sandbox.configure(token_valid_s=0.001)
    refused = http.post(env["PP_URL"] + "/Security/Whoami", json={}, headers=headers, timeout=30)
    assert refused.status_code == 401 and refused.json()["success"] is False, refused.text
