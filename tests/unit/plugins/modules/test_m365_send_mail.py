# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError
from ansible_collections.practiceprotect.m365.plugins.modules import m365_send_mail

SECRET_BODY = "Your first password is Xy7-Secret-Pw!"
SENDER = {"id": "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61", "userPrincipalName": "sarah.jones@northwindacct.com",
          "mail": "sarah.jones@northwindacct.com", "accountEnabled": True}

SEED_SENDER = object()  # FakeModule's default user: SENDER (user=None means no such user)


class FakeGraph:
    def __init__(self, user):
        self.user = user
        self.calls = []

    def get_or_none(self, path, params=None):
        self.calls.append(("GET", path))
        return self.user

    def request(self, method, path, body=None):
        self.calls.append((method, path))
        return None


class FakeAnsible:
    def __init__(self, diff):
        self._diff = diff
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class FakeStats:
    def __init__(self, events):
        self.events = events


class FakeModule:
    """What plan() uses of the Module: params, check_mode, graph, retry_stats, module (diff flag, warn) and exit()."""

    def __init__(self, check_mode=False, diff=False, user=SEED_SENDER, events=(), **options):
        self.params = dict(sender="sarah.jones@northwindacct.com", to=["jane.personal@example.org"], cc=[], subject="Welcome",
                           body=SECRET_BODY, body_type="text", save_to_sent_items=False)
        self.params.update(options)
        self.check_mode = check_mode
        self.graph = FakeGraph(dict(SENDER) if user is SEED_SENDER else user)
        self.retry_stats = FakeStats(list(events))
        self.module = FakeAnsible(diff)
        self.result = None

    def exit(self, **result):
        self.result = result

    def shared(self, name, make):
        if not hasattr(self, "_shared"):
            self._shared = {}
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]


def send(m):
    """One message the way Module.run runs a single object: plan, then (outside check mode) send."""
    result, apply = m365_send_mail.plan(m, m.params)
    if apply is not None and not m.check_mode:
        result = apply()
    m.exit(**result)


def test_sends_and_reports_a_change_without_the_body():
    m = FakeModule(diff=True, cc=["tom.baker@northwindacct.com"])
    send(m)
    assert m.graph.calls == [("GET", "users/sarah.jones@northwindacct.com"), ("POST", "users/sarah.jones@northwindacct.com/sendMail")]
    r = m.result
    assert r["changed"] is True and r["sent"] is True
    assert r["message"] == {"sender": "sarah.jones@northwindacct.com", "to": ["jane.personal@example.org"],
                            "cc": ["tom.baker@northwindacct.com"], "subject": "Welcome", "body_type": "text"}
    assert r["plan"][0]["path"] == "/users/sarah.jones@northwindacct.com/sendMail"
    assert r["diff"]["after"]["to"] == ["jane.personal@example.org"] and r["diff"]["before"] == {}
    assert SECRET_BODY not in repr(r)
    assert m.module.warnings == []


def test_check_mode_reads_the_sender_and_sends_nothing():
    m = FakeModule(check_mode=True)
    send(m)
    assert m.graph.calls == [("GET", "users/sarah.jones@northwindacct.com")]
    assert m.result["changed"] is True and m.result["sent"] is False and len(m.result["plan"]) == 1
    assert "diff" not in m.result


def test_bad_recipient_is_refused_before_any_call():
    m = FakeModule(to=["jane.personal@example.org", "not-an-address"])
    with pytest.raises(ValidationError) as caught:
        send(m)
    assert caught.value.message == "to 'not-an-address' is not a valid e-mail address: An email address must have an @-sign."
    assert m.graph.calls == [] and m.result is None


def test_unknown_sender_is_refused_before_sending():
    m = FakeModule(user=None, sender="nobody@northwindacct.com")
    with pytest.raises(ValidationError) as caught:
        send(m)
    assert caught.value.message == ("sender nobody@northwindacct.com is not a user in this tenant; give the UPN or object id of the "
                                    "mailbox that sends the message.")
    assert m.graph.calls == [("GET", "users/nobody@northwindacct.com")]


def test_a_retried_send_warns_that_the_message_may_arrive_twice():
    m = FakeModule(events=[{"method": "POST", "url": "/v1.0/users/sarah.jones@northwindacct.com/sendMail", "status": None,
                            "error": "ProtocolError"}])
    send(m)
    assert m.result["sent"] is True
    assert m.module.warnings == ["Sending was retried after ProtocolError; if Microsoft 365 had already accepted the first attempt, the "
                                 "recipients receive the message twice."]


def test_argument_spec(monkeypatch):
    captured = {}

    class Capture:
        def __init__(self, argument_spec, **kwargs):
            captured.update(spec=argument_spec, kwargs=kwargs)

        def run(self, plan, prefetch=None):
            captured["plan"] = plan

    monkeypatch.setattr(m365_send_mail, "Module", Capture)
    m365_send_mail.main()
    spec = captured["spec"]
    assert spec["body"] == {"type": "str", "no_log": True}
    assert spec["to"] == {"type": "list", "elements": "str"} and spec["label"] == {"type": "str"}
    assert spec["body_type"]["default"] == "text" and spec["save_to_sent_items"] == {"type": "bool", "default": False}
    assert captured["kwargs"]["items"] == (m365_send_mail.ITEM_SPEC, "label") and captured["kwargs"]["label_optional"] is True
    assert captured["plan"] is m365_send_mail.plan


def test_many_messages_from_one_sender_read_the_sender_once():
    m = FakeModule()
    for person in ("jane", "oliver"):
        result, apply = m365_send_mail.plan(m, dict(m.params, label=person, to=["%s.personal@example.org" % person]))
        apply()
    assert m.graph.calls == [("GET", "users/sarah.jones@northwindacct.com"), ("POST", "users/sarah.jones@northwindacct.com/sendMail"),
                             ("POST", "users/sarah.jones@northwindacct.com/sendMail")]
