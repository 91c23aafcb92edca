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


# -- main() against canned Graph answers (fixtures in conftest.py) ----------------------------------------------------

SENDER_PATH = "/v1.0/users/sarah.jones@northwindacct.com"
MESSAGE = dict(sender="sarah.jones@northwindacct.com", to=["jane.personal@example.org"], subject="Welcome to Northwind", body=SECRET_BODY)


def sender_route(fake):
    fake.graph("GET", r"users/sarah\.jones@northwindacct\.com", (200, dict(SENDER, **{
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail,accountEnabled)/$entity"})))


def test_main_sends_one_message_and_never_prints_its_body(fake, run_module, m365_args):
    sender_route(fake)
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", (202, None))

    result = run_module(m365_send_mail, dict(m365_args, cc=["tom.baker@northwindacct.com"], **MESSAGE))

    assert result["changed"] is True and result["sent"] is True
    assert fake.calls() == [("GET", SENDER_PATH), ("POST", SENDER_PATH + "/sendMail")]
    assert fake.requests[0].query == {"$select": "id,userPrincipalName,mail,accountEnabled"}
    sent = fake.writes()[0].json
    assert sent == {"message": {"subject": "Welcome to Northwind", "body": {"contentType": "Text", "content": SECRET_BODY},
                                "toRecipients": [{"emailAddress": {"address": "jane.personal@example.org"}}],
                                "ccRecipients": [{"emailAddress": {"address": "tom.baker@northwindacct.com"}}]},
                    "saveToSentItems": False}
    assert result["plan"] == [{"op": "send", "method": "POST", "path": "/users/sarah.jones@northwindacct.com/sendMail",
                               "fields": ["message.subject", "message.body", "message.toRecipients", "message.ccRecipients",
                                          "saveToSentItems"]}]
    assert SECRET_BODY not in run_module.output and m365_args["client_secret"] not in run_module.output


def test_main_sending_is_an_action_so_every_run_sends_again(fake, run_module, m365_args):
    sender_route(fake)
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", (202, None))

    first = run_module(m365_send_mail, dict(m365_args, **MESSAGE))
    second = run_module(m365_send_mail, dict(m365_args, **MESSAGE))

    assert first["changed"] is second["changed"] is True
    assert [(r.method, r.path) for r in fake.writes()] == [("POST", SENDER_PATH + "/sendMail")] * 2


def test_main_check_mode_reads_the_sender_only(fake, run_module, m365_args):
    sender_route(fake)

    result = run_module(m365_send_mail, dict(m365_args, **MESSAGE), check_mode=True)

    assert result["changed"] is True and result["sent"] is False
    assert fake.calls() == [("GET", SENDER_PATH)] and fake.writes() == []


def test_main_diff_shows_who_gets_what_subject(fake, run_module, m365_args):
    sender_route(fake)
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", (202, None))

    result = run_module(m365_send_mail, dict(m365_args, **MESSAGE), diff=True)

    assert result["diff"] == {"before": {}, "after": {"sender": "sarah.jones@northwindacct.com", "to": ["jane.personal@example.org"],
                                                      "cc": [], "subject": "Welcome to Northwind"}}
    assert SECRET_BODY not in run_module.output


def test_main_403_names_mail_send(fake, run_module, m365_args):
    sender_route(fake)
    denied = fake.graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", denied)

    result = run_module(m365_send_mail, dict(m365_args, **MESSAGE))

    assert result["failed"] is True and result["status"] == 403 and result["error_code"] == "ErrorAccessDenied"
    assert result["msg"].startswith("Access is denied. Check credentials and try again. The application lacks the Microsoft Graph "
                                    "application permission Mail.Send, needed to send as sarah.jones@northwindacct.com")
    assert SECRET_BODY not in run_module.output


def test_main_sender_without_mailbox_is_named(fake, run_module, m365_args):
    sender_route(fake)
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", fake.graph_error(
        404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise."))

    result = run_module(m365_send_mail, dict(m365_args, **MESSAGE))

    assert result["failed"] is True and result["error_code"] == "MailboxNotEnabledForRESTAPI"
    assert result["msg"] == ("sender sarah.jones@northwindacct.com has no Exchange Online mailbox; give it a licence with Exchange or pick "
                             "another sender.")


def test_main_unknown_sender_fails_before_sending(fake, run_module, m365_args):
    fake.graph("GET", r"users/nobody@northwindacct\.com", fake.graph_error(404, "Request_ResourceNotFound", "Resource 'nobody' does not exist."))

    result = run_module(m365_send_mail, dict(m365_args, **dict(MESSAGE, sender="nobody@northwindacct.com")))

    assert result["failed"] is True and result["field"] == "sender"
    assert fake.writes() == []


def test_main_bad_recipient_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_send_mail, dict(m365_args, **dict(MESSAGE, to=["jane.personal@example.org", "not-an-address"])))

    assert result["failed"] is True and result["field"] == "to"
    assert result["msg"] == "to 'not-an-address' is not a valid e-mail address: An email address must have an @-sign."
    assert fake.requests == [] and SECRET_BODY not in run_module.output


def test_main_many_messages_read_the_sender_once_and_send_in_batches(fake, run_module, m365_args):
    sender_route(fake)
    fake.graph("POST", r"users/sarah\.jones@northwindacct\.com/sendMail", (202, None))
    items = [{"label": "jane", "to": ["jane.personal@example.org"]}, {"label": "oliver", "to": ["oliver.personal@example.org"]}]

    result = run_module(m365_send_mail, dict(m365_args, sender="sarah.jones@northwindacct.com", subject="Welcome", body=SECRET_BODY,
                                             items=items))

    assert result["changed"] is True and result["failed_items"] == [] and sorted(result["outcomes"]) == ["jane", "oliver"]
    assert [r.path for r in fake.sent("graph") if r.method == "GET"] == [SENDER_PATH]
    sends = fake.writes()
    assert sorted(r.json["message"]["toRecipients"][0]["emailAddress"]["address"] for r in sends) == [
        "jane.personal@example.org", "oliver.personal@example.org"]
    assert all(r.batched for r in sends) and result["graph_batched_calls"] == 2
    assert SECRET_BODY not in run_module.output
