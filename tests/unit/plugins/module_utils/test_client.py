# -*- coding: utf-8 -*-
"""The request loop and the waiter every client shares (_client), with a scripted session and a fake clock."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._client import ServiceClient, wait_until


class Clock:
    """Time that passes only when someone sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Answer:
    def __init__(self, status):
        self.status_code = status


class Session:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.sent = []

    def request(self, method, url, headers=None, timeout=None, **kwargs):
        self.sent.append((method, url, headers["Authorization"]))
        return Answer(self.statuses.pop(0))


class Client(ServiceClient):
    def __init__(self, statuses, **kwargs):
        self.clock_ = Clock()
        super(Client, self).__init__(Session(statuses), sleep=self.clock_.sleep, clock=self.clock_, **kwargs)
        self.tokens = 0

    def authorization(self):
        return "Bearer t%d" % (self.tokens + 1)

    def forget_token(self):
        self.tokens += 1


def test_wait_until_backs_off_and_returns_what_it_saw():
    clock = Clock()
    answers = iter([None, None, None, "there"])
    waited = wait_until(lambda: next(answers), 60, done=lambda v: v is not None, sleep=clock.sleep, clock=clock)
    assert (waited.value, waited.done, waited.polls) == ("there", True, 3) and clock.sleeps == [1.0, 2.0, 4.0]


def test_wait_until_stops_on_its_timeout_with_the_last_answer():
    clock = Clock()
    waited = wait_until(lambda: "still", 20, done=lambda v: v == "done", sleep=clock.sleep, clock=clock)
    assert not waited.done and waited.value == "still" and clock.now == 20
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 5.0]  # the last wait is cut to end on the timeout
    clock = Clock()
    assert not wait_until(lambda: 0, 0, sleep=clock.sleep, clock=clock).done and clock.sleeps == []


def test_wait_until_at_a_fixed_interval_and_from_a_known_answer():
    clock = Clock()
    calls = []
    waited = wait_until(lambda: calls.append(1) or len(calls), 100, done=lambda n: n >= 2, sleep=clock.sleep, clock=clock, delay=5,
                        factor=1, seen=0)
    assert waited.done and clock.sleeps == [5, 5] and len(calls) == 2


def test_a_401_fetches_one_fresh_token_then_reports():
    client = Client([401, 200])
    assert client.send("GET", "https://svc/x").status_code == 200
    assert [s[2] for s in client.session.sent] == ["Bearer t1", "Bearer t2"] and client.requests_sent == 2
    client = Client([401, 401, 200])
    assert client.send("GET", "https://svc/x").status_code == 401 and len(client.session.sent) == 2


def test_a_read_is_sent_again_after_a_500_and_a_write_is_not():
    client = Client([500, 502, 200])
    assert client.send("POST", "https://svc/query", read=True).status_code == 200 and len(client.clock_.sleeps) == 2
    client = Client([500])
    assert client.send("POST", "https://svc/write").status_code == 500 and client.clock_.sleeps == []
    client = Client([500] * 6)
    assert client.send("GET", "https://svc/x").status_code == 500 and len(client.session.sent) == 4  # four tries in all


@pytest.mark.parametrize("deadline, sent", [(300, 3), (2, 1)])
def test_a_service_rule_retries_within_the_deadline(deadline, sent):
    class Busy(Client):
        def retry_delay(self, method, url, response, attempt, read):
            return 10 if response.status_code == 409 else None

    recorded = []

    class Stats:
        def record(self, *args):
            recorded.append(args)

    client = Busy([409, 409, 200], retry_deadline=deadline, stats=Stats())
    assert client.send("POST", "https://svc/x").status_code == (200 if sent == 3 else 409)
    assert len(client.session.sent) == sent and len(recorded) == sent - 1
