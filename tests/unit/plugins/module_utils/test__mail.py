# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _mail
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import describe_error
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

SECRET_BODY = "Your first password is Xy7-Secret-Pw!"
SENDER = {"id": "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61", "userPrincipalName": "sarah.jones@northwindacct.com",
          "mail": "sarah.jones@northwindacct.com", "accountEnabled": True}


def params(**kw):
    base = dict(sender="sarah.jones@northwindacct.com", to=["jane.personal@example.org"], cc=[], subject="Welcome", body=SECRET_BODY,
                body_type="text", save_to_sent_items=False)
    base.update(kw)
    return base


@pytest.mark.parametrize("options, message, field", [
    (dict(sender=""), "sender is empty; give the UPN of the mailbox that sends the message.", "sender"),
    (dict(sender="sarah jones"), "sender 'sarah jones' is not a user principal name (name@domain) or an object id; give the UPN of the "
                                 "mailbox that sends the message.", "sender"),
    (dict(to=[]), "to is empty; give at least one recipient address.", "to"),
    (dict(to=None), "to is empty; give at least one recipient address.", "to"),
    (dict(to=["not-an-address"]), "to 'not-an-address' is not a valid e-mail address: An email address must have an @-sign.", "to"),
    (dict(to=["jane@localhost"]), "to 'jane@localhost' is not a valid e-mail address: The part after the @-sign is not valid. It should "
                                  "have a period.", "to"),
    (dict(to=["jane.personal@example.org", " "]), "to holds an empty address; give e-mail addresses such as jane@example.org.", "to"),
    (dict(cc=["manager at example.org"]), "cc 'manager at example.org' is not a valid e-mail address: An email address must have an "
                                          "@-sign.", "cc"),
    (dict(to=["p%d@example.org" % n for n in range(400)], cc=["c%d@example.org" % n for n in range(101)]),
     "The message has 501 recipients; Exchange Online accepts at most 500 per message. Send it in smaller batches.", "to"),
    (dict(subject="  "), "subject is empty; give the message a subject.", "subject"),
    (dict(body=""), "body is empty; give the text of the message.", "body"),
    (dict(body_type="markdown"), "body_type must be text or html, not 'markdown'.", "body_type"),
])
def test_bad_input_is_refused_with_an_exact_message(options, message, field):
    with pytest.raises(ValidationError) as caught:
        _mail.build_spec(params(**options))
    assert caught.value.message == message
    assert caught.value.field == field
    assert SECRET_BODY not in caught.value.message


def test_spec_normalises_and_deduplicates_addresses():
    spec = _mail.build_spec(params(to=["Jane.Personal@Example.ORG", "jane.personal@example.org", " tom@example.org "],
                                   cc=["Manager@Example.org"], save_to_sent_items=None))
    assert spec["to"] == ["Jane.Personal@example.org", "tom@example.org"]
    assert spec["cc"] == ["Manager@example.org"]
    assert spec["save_to_sent_items"] is False
    object_id = _mail.build_spec(params(sender="0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"))
    assert object_id["sender"] == "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"


def test_plan_is_one_send_and_shows_no_body():
    plan = _mail.plan_send(_mail.build_spec(params(cc=["tom.baker@northwindacct.com"], body_type="html", save_to_sent_items=True)),
                           SENDER)
    [call] = plan["calls"]
    assert call["method"] == "POST" and call["path"] == "users/sarah.jones@northwindacct.com/sendMail"
    assert call["body"] == {
        "message": {"subject": "Welcome", "body": {"contentType": "HTML", "content": SECRET_BODY},
                    "toRecipients": [{"emailAddress": {"address": "jane.personal@example.org"}}],
                    "ccRecipients": [{"emailAddress": {"address": "tom.baker@northwindacct.com"}}]},
        "saveToSentItems": True}
    public = _mail.public_calls(plan)
    assert public == [{"op": "send", "method": "POST", "path": "/users/sarah.jones@northwindacct.com/sendMail",
                       "fields": ["message.subject", "message.body", "message.toRecipients", "message.ccRecipients", "saveToSentItems"]}]
    assert plan["message"] == {"sender": "sarah.jones@northwindacct.com", "to": ["jane.personal@example.org"],
                               "cc": ["tom.baker@northwindacct.com"], "subject": "Welcome", "body_type": "html"}
    assert _mail.diff(plan) == {"before": {}, "after": {"sender": "sarah.jones@northwindacct.com", "to": ["jane.personal@example.org"],
                                                        "cc": ["tom.baker@northwindacct.com"], "subject": "Welcome"}}
    assert SECRET_BODY not in repr(public) + repr(plan["message"]) + repr(_mail.diff(plan))


def test_plan_without_cc_and_with_a_upn_that_needs_escaping():
    plan = _mail.plan_send(_mail.build_spec(params(sender="o'neil#1@northwindacct.com")),
                           dict(SENDER, userPrincipalName="o'neil#1@northwindacct.com"))
    [call] = plan["calls"]
    assert call["path"] == "users/o%27neil%231@northwindacct.com/sendMail"
    assert "ccRecipients" not in call["body"]["message"] and call["body"]["saveToSentItems"] is False
    assert call["fields"] == ["message.subject", "message.body", "message.toRecipients", "saveToSentItems"]


class FakeGraph:
    def __init__(self, user=None, error=None):
        self.user = user
        self.error = error
        self.calls = []

    def get_or_none(self, path, params=None):
        self.calls.append(("GET", path, params))
        return self.user

    def request(self, method, path, body=None):
        self.calls.append((method, path, body))
        if self.error is not None:
            raise self.error
        return None


def test_resolve_sender():
    graph = FakeGraph(user=SENDER)
    assert _mail.resolve_sender(graph, "sarah.jones@northwindacct.com") == SENDER
    assert graph.calls == [("GET", "users/sarah.jones@northwindacct.com", {"$select": "id,userPrincipalName,mail,accountEnabled"})]
    with pytest.raises(ValidationError) as caught:
        _mail.resolve_sender(FakeGraph(user=None), "nobody@northwindacct.com")
    assert caught.value.message == ("sender nobody@northwindacct.com is not a user in this tenant; give the UPN or object id of the "
                                    "mailbox that sends the message.")


def graph_error(status, code, message="Service message."):
    return GraphError(message, status=status, code=code, request_id="req-1", method="POST", path="users/sarah.jones@northwindacct.com/sendMail")


@pytest.mark.parametrize("error, sentence", [
    (graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."),
     "Access is denied. Check credentials and try again. The application lacks the Microsoft Graph application permission Mail.Send, "
     "needed to send as sarah.jones@northwindacct.com (or an Exchange Online application access policy keeps it from that mailbox); "
     "see docs/permissions.md."),
    (graph_error(404, "MailboxNotEnabledForRESTAPI"),
     "sender sarah.jones@northwindacct.com has no Exchange Online mailbox; give it a licence with Exchange or pick another sender."),
    (graph_error(404, "MailboxNotSupportedForRESTAPI"),
     "sender sarah.jones@northwindacct.com has no Exchange Online mailbox; give it a licence with Exchange or pick another sender."),
    (graph_error(404, "ErrorInvalidUser"),
     "sender sarah.jones@northwindacct.com is not a user in this tenant; give the UPN or object id of the mailbox that sends the message."),
    (graph_error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid."),
     "Microsoft 365 refused the recipients: At least one recipient isn't valid. Check to and cc."),
])
def test_send_failures_become_sentences_with_the_service_fields(error, sentence):
    plan = _mail.plan_send(_mail.build_spec(params()), SENDER)
    with pytest.raises(_mail.SendMailError) as caught:
        _mail.send(FakeGraph(error=error), plan)
    failure = caught.value
    assert failure.message == sentence
    assert failure.as_dict() == {"status": error.status, "error_code": error.code, "request_id": "req-1", "method": "POST",
                                 "path": "users/sarah.jones@northwindacct.com/sendMail"}
    assert describe_error(failure) == (sentence, failure.as_dict())


def test_other_failures_keep_the_service_message_and_the_common_description():
    plan = _mail.plan_send(_mail.build_spec(params()), SENDER)
    error = graph_error(500, "InternalServerError", "An internal server error occurred.")
    with pytest.raises(GraphError) as caught:
        _mail.send(FakeGraph(error=error), plan)
    assert caught.value is error and not isinstance(caught.value, _mail.SendMailError)
    assert describe_error(error)[0] == "An internal server error occurred."


def test_send_posts_the_planned_body():
    plan = _mail.plan_send(_mail.build_spec(params()), SENDER)
    graph = FakeGraph()
    _mail.send(graph, plan)
    assert graph.calls == [("POST", "users/sarah.jones@northwindacct.com/sendMail", plan["calls"][0]["body"])]


def test_resent_warning_only_for_retries_the_service_may_have_acted_on():
    plan = _mail.plan_send(_mail.build_spec(params()), SENDER)
    url = "/v1.0/users/sarah.jones@northwindacct.com/sendMail"
    assert _mail.resent_warning([], plan) is None
    assert _mail.resent_warning([{"method": "POST", "url": url, "status": 429, "error": None}], plan) is None
    assert _mail.resent_warning([{"method": "GET", "url": "/v1.0/users/sarah.jones@northwindacct.com", "status": None,
                                  "error": "ProtocolError"}], plan) is None
    assert _mail.resent_warning([{"method": "POST", "url": url, "status": None, "error": "ProtocolError"}], plan) == (
        "Sending was retried after ProtocolError; if Microsoft 365 had already accepted the first attempt, the recipients receive the "
        "message twice.")
    assert "after HTTP 504;" in _mail.resent_warning([{"method": "POST", "url": "https://graph.example" + url, "status": 504,
                                                       "error": None}], plan)
