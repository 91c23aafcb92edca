# -*- coding: utf-8 -*-
"""m365_send_mail through real ansible-playbook runs against the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from tests.integration.support import documented_permissions, play

SENDER = "sarah.jones@northwindacct.com"  # seeded with an E3 licence, so with a mailbox
NO_MAILBOX = "admin@northwindacct.onmicrosoft.com"  # seeded without a licence
PASSWORD = "Act1vation-Pw-7Qz!"
BODY = "Hello Jane,\n\nYour account is jane.citizen@northwindacct.com and your first password is %s\n" % PASSWORD


def mail_task(name="mail", register="r", **options):
    options.setdefault("sender", SENDER)
    options.setdefault("to", ["jane.personal@example.org"])
    options.setdefault("subject", "Your Northwind Accounting account")
    options.setdefault("body", BODY)
    return {"name": name, "practiceprotect.m365.m365_send_mail": options, "register": register}


def failing(task):
    task["ignore_errors"] = True
    return task


def test_sends_the_message_and_never_prints_the_body(sandbox, run_playbook):
    run = run_playbook(play(mail_task(cc=["tom.baker@northwindacct.com"])), verbosity=3, diff=True, expect_rc=0)
    r = run.result("mail")
    assert r["changed"] is True and r["sent"] is True
    assert r["message"] == {"sender": SENDER, "to": ["jane.personal@example.org"], "cc": ["tom.baker@northwindacct.com"],
                            "subject": "Your Northwind Accounting account", "body_type": "text"}
    assert r["plan"] == [{"op": "send", "method": "POST", "path": "/users/%s/sendMail" % SENDER,
                          "fields": ["message.subject", "message.body", "message.toRecipients", "message.ccRecipients", "saveToSentItems"]}]
    assert r["graph_requests"] == 2 and r["retries"] == 0
    [sent] = sandbox.mail()
    assert sent["sender"] == SENDER and sent["toRecipients"] == ["jane.personal@example.org"]
    assert sent["ccRecipients"] == ["tom.baker@northwindacct.com"] and sent["bccRecipients"] == []
    assert sent["subject"] == "Your Northwind Accounting account"
    assert sent["contentType"] == "text" and sent["content"] == BODY
    assert sent["saveToSentItems"] is False and sent["appId"] == sandbox.env["M365_CLIENT_ID"]
    [write] = sandbox.writes()
    assert write["path"] == "/v1.0/users/%s/sendMail" % SENDER and write["status"] == 202
    assert sorted(write["body_keys"]) == ["message", "saveToSentItems"]
    # The body (and the password in it) appears nowhere: not at -vvv, not in the diff, not in the request log.
    assert "Your Northwind Accounting account" in run.stdout  # the diff and the result are there
    for secret in (PASSWORD, "first password is", sandbox.env["M365_CLIENT_SECRET"]):
        assert secret not in run.stdout
    assert PASSWORD not in json.dumps(sandbox.log())
    # An action, not a state: a second run sends again.
    again = run_playbook(play(mail_task(body_type="html", body="<p>Reminder</p>", save_to_sent_items=True)), expect_rc=0)
    assert again.result("mail")["changed"] is True
    assert [(m["contentType"], m["content"], m["saveToSentItems"]) for m in sandbox.mail()] == [
        ("text", BODY, False), ("html", "<p>Reminder</p>", True)]


def test_check_mode_sends_nothing_and_diff_shows_recipients_and_subject(sandbox, run_playbook):
    run = run_playbook(play(mail_task()), check=True, diff=True, verbosity=3, expect_rc=0)
    r = run.result("mail")
    assert r["changed"] is True and r["sent"] is False and len(r["plan"]) == 1
    assert r["diff"] == {"before": {}, "after": {"sender": SENDER, "to": ["jane.personal@example.org"], "cc": [],
                                                 "subject": "Your Northwind Accounting account"}}
    assert "jane.personal@example.org" in run.stdout and PASSWORD not in run.stdout
    assert sandbox.writes() == []
    assert sandbox.mail() == []


BAD_INPUTS = [
    ("bad recipient", dict(to=["jane.personal@example.org", "jane at example.org"]),
     "to 'jane at example.org' is not a valid e-mail address: An email address must have an @-sign."),
    ("bad cc", dict(cc=["manager@localhost"]),
     "cc 'manager@localhost' is not a valid e-mail address: The part after the @-sign is not valid. It should have a period."),
    ("empty subject", dict(subject=" "), "subject is empty; give the message a subject."),
    ("unknown sender", dict(sender="nobody@northwindacct.com"),
     "sender nobody@northwindacct.com is not a user in this tenant; give the UPN or object id of the mailbox that sends the message."),
    ("wrong body type", dict(body_type="markdown"), "value of body_type must be one of: text, html, got: markdown"),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    run = run_playbook(play(*[failing(mail_task(name=name, **options)) for name, options, _ in BAD_INPUTS]), verbosity=3, expect_rc=0)
    for name, _, message in BAD_INPUTS:
        t = run.task(name)
        assert t["status"] == "failed", name
        assert t["result"]["msg"] == message, (name, t["result"]["msg"])
    assert sandbox.writes() == []
    assert sandbox.mail() == []
    assert PASSWORD not in run.stdout


def test_sender_without_a_mailbox_is_named(sandbox, run_playbook):
    run = run_playbook(play(mail_task(sender=NO_MAILBOX)))
    assert run.rc == 2
    r = run.result("mail")
    assert r["msg"] == ("sender %s has no Exchange Online mailbox; give it a licence with Exchange or pick another sender." % NO_MAILBOX)
    assert r["status"] == 404 and r["error_code"] == "MailboxNotEnabledForRESTAPI" and r["request_id"]
    assert [(w["method"], w["status"]) for w in sandbox.writes()] == [("POST", 404)]
    assert sandbox.mail() == []


def test_documented_permissions_are_enough_and_a_missing_mail_send_is_named(sandbox, run_playbook):
    roles = documented_permissions("m365_send_mail")
    assert roles == ["User.Read.All", "Mail.Send"]
    apps = {"full": sandbox.add_app("m365_send_mail least privilege", roles)}
    for missing in roles:
        apps[missing] = sandbox.add_app("without " + missing, [role for role in roles if role != missing])

    def as_app(key, name):
        return failing(mail_task(name=name, client_id="{{ apps['%s'].client_id }}" % key,
                                 client_secret="{{ apps['%s'].client_secret }}" % key))

    run = run_playbook(play(as_app("full", "full"), as_app("Mail.Send", "no Mail.Send"), as_app("User.Read.All", "no User.Read.All")),
                       extra_vars={"apps": apps}, expect_rc=0)
    assert run.task("full")["status"] == "ok" and run.result("full")["sent"] is True
    [sent] = sandbox.mail()
    assert sent["appId"] == apps["full"]["client_id"] and sent["content"] == BODY
    no_send = run.result("no Mail.Send")
    assert run.task("no Mail.Send")["status"] == "failed" and no_send["status"] == 403 and no_send["error_code"] == "ErrorAccessDenied"
    assert no_send["msg"] == ("Access is denied. Check credentials and try again. The application lacks the Microsoft Graph application "
                              "permission Mail.Send, needed to send as %s (or an Exchange Online application access policy keeps it "
                              "from that mailbox); see docs/permissions.md." % SENDER)
    no_read = run.result("no User.Read.All")
    assert run.task("no User.Read.All")["status"] == "failed" and no_read["status"] == 403 and no_read["method"] == "GET"
    assert no_read["msg"].startswith("Insufficient privileges to complete the operation. The application lacks a Microsoft Graph "
                                     "permission for GET users/%s" % SENDER)
    assert [(w["app_id"], w["status"]) for w in sandbox.writes()] == [(apps["full"]["client_id"], 202),
                                                                      (apps["Mail.Send"]["client_id"], 403)]


def test_many_messages_in_one_task_each_reported_by_label(sandbox, run_playbook):
    items = [{"label": "jane.citizen@northwindacct.com", "to": ["jane.personal@example.org"], "body": BODY},
             {"label": "oliver.brown@northwindacct.com", "to": ["not an address"], "body": "Hello"},
             {"label": "mia.nguyen@northwindacct.com", "to": ["mia.personal@example.org"], "body": "Hello Mia"}]
    run = run_playbook(play({"name": "mail", "practiceprotect.m365.m365_send_mail": {
        "sender": SENDER, "subject": "Your account", "items": items, "fail_on_item_error": False}, "register": "r", "no_log": True}),
        verbosity=3, expect_rc=0)
    assert PASSWORD not in run.stdout
    sent = sandbox.mail()
    assert sorted(m["toRecipients"][0] for m in sent) == ["jane.personal@example.org", "mia.personal@example.org"]
    requests = [e for e in sandbox.log() if e["service"] == "graph" and e["path"].endswith("/users/%s" % SENDER)]
    assert len(requests) == 1  # the sender is read once for every message


def test_an_item_without_a_label_is_refused_before_any_call(sandbox, run_playbook):
    run = run_playbook(play(mail_task(sender=SENDER, items=[{"to": ["jane.personal@example.org"], "body": "x"}], to=None, subject="s",
                                      body=None)))
    assert run.rc == 2 and run.result("mail")["msg"] == "items[0] has no label; give each item its label."
    assert sandbox.writes() == [] and sandbox.mail() == []
