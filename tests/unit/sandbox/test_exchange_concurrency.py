"""Exchange Online's per-tenant concurrency limit in the sandbox: one InvokeCommand call more than the knob allows in flight is
answered "You have reached the maximum number of concurrent requests per tenant", as plain text. A real server, real HTTP."""

import threading

import pytest
import requests

from tests.sandbox.client import SandboxError

BUSY = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."


@pytest.fixture
def invoke(fresh_sandbox):
    env = fresh_sandbox.env
    token = fresh_sandbox.token(resource=env["M365_EXCHANGE_URL"])
    url = "%s/adminapi/beta/%s/InvokeCommand" % (env["M365_EXCHANGE_URL"], env["M365_TENANT_ID"])

    def call(cmdlet="Get-AcceptedDomain", parameters=None):
        with requests.Session() as http:
            http.verify = env["M365_CA_PATH"]
            http.trust_env = False
            return http.post(url, json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}},
                             headers={"Authorization": "Bearer " + token}, timeout=30)
    return call


def at_once(call, count):
    """``count`` calls started together; their answers."""
    answers = [None] * count
    start = threading.Barrier(count)

    def one(index):
        start.wait()
        answers[index] = call()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_one_call_more_than_the_limit_is_refused_in_plain_text(fresh_sandbox, invoke):
    assert fresh_sandbox.control("GET", "config")["exchange_max_concurrency"] == 4  # on by default
    fresh_sandbox.configure(latency_ms=600, exchange_max_concurrency=2)
    answers = at_once(invoke, 5)
    refused = [answer for answer in answers if answer.status_code == 429]
    assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429, 429]
    assert all(answer.text == BUSY and answer.headers["content-type"].startswith("text/plain") for answer in refused)
    assert all("Retry-After" not in answer.headers for answer in refused)
    logged = [entry for entry in fresh_sandbox.log() if entry["service"] == "exchange" and entry["fault"] == "concurrency_limit"]
    assert len(logged) == 3 and {entry["cmdlet"] for entry in logged} == {"Get-AcceptedDomain"} and logged[0]["status"] == 429
    # Once the calls in flight are answered, the next one is served.
    assert invoke().status_code == 200


def test_no_limit_and_calls_one_after_another(fresh_sandbox, invoke):
    fresh_sandbox.configure(latency_ms=300, exchange_max_concurrency=None)
    assert [answer.status_code for answer in at_once(invoke, 6)] == [200] * 6
    fresh_sandbox.configure(latency_ms=0, exchange_max_concurrency=1)
    assert [invoke().status_code for _ in range(5)] == [200] * 5  # sequential calls never overlap
    with pytest.raises(SandboxError):
        fresh_sandbox.configure(exchange_max_concurrency=0)
