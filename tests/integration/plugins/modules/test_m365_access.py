# -*- coding: utf-8 -*-
"""m365_access, the automatic reply of m365_mailbox and the scramble of m365_user through real ansible-playbook runs against
the sandbox: everything closes, a re-run sends no write, check mode writes nothing, no password reaches the output."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from tests.integration.support import last_seq, play

TOM = "tom.baker@northwindacct.com"
TOM_ID = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
SARAH = "sarah.jones@northwindacct.com"
EVERYTHING = {"authentication_methods": {"set": []}, "mobile_devices": {"set": []}, "disable_external_forwarding_rules": True,
              "max_removals": "100%"}


def task(module, name, **options):
    options.setdefault("user", TOM)
    return {"name": name, "practiceprotect.m365.%s" % module: options}


def mailbox(sandbox, upn=TOM):
    return [m for m in sandbox.state()["mailboxes"] if (m.get("UserPrincipalName") or "").lower() == upn][0]


def test_every_way_in_closes_then_a_rerun_sends_no_write(sandbox, run_playbook):
    mark = last_seq(sandbox)
    planned = run_playbook(play(task("m365_access", "access", **EVERYTHING)), check=True, expect_rc=0).result("access")
    assert planned["changed"] and sandbox.writes(since=mark) == []
    assert len(planned["authentication_methods_removed"]) == 7 and len(planned["mobile_devices_removed"]) == 2

    r = run_playbook(play(task("m365_access", "access", **EVERYTHING)), diff=True, expect_rc=0).result("access")
    assert r["changed"] and [m["kind"] for m in r["authentication_methods"]] == ["password"]
    assert [m["kind"] for m in r["authentication_methods_kept"]] == ["password"]
    assert [(x["name"], x["to"]) for x in r["forwarding_rules_disabled"]] == [("Forward to my Gmail", ["tom.baker.home@gmail.com"])]
    assert sorted(x["name"] for x in r["forwarding_rules"]) == ["Forward to my Gmail", "Old redirect to my accountant"]
    state = sandbox.state()
    assert [m["kind"] for m in state["auth_methods"][TOM_ID]] == ["password"]
    box = mailbox(sandbox)
    assert box["MobileDevices"] == []
    assert [(x["displayName"], x["isEnabled"]) for x in box["InboxRules"]] == [
        ("Forward to my Gmail", False), ("Clients to Sarah", True), ("Old redirect to my accountant", False), ("Newsletters", True)]

    mark = last_seq(sandbox)
    again = run_playbook(play(task("m365_access", "access", **EVERYTHING)), expect_rc=0).result("access")
    assert not again["changed"] and sandbox.writes(since=mark) == []


def test_a_removal_over_the_limit_is_refused_before_any_write(sandbox, run_playbook):
    mark = last_seq(sandbox)
    run = run_playbook(play(task("m365_access", "access", authentication_methods={"set": []}, max_removals=2)))
    r = run.result("access")
    assert run.rc == 2 and r["msg"].startswith("Refusing to remove 7 authentication methods from tom.baker@northwindacct.com, more than "
                                               "max_removals (2)")
    assert sandbox.writes(since=mark) == []


def test_an_automatic_reply_is_set_once_and_shows_in_exchange(sandbox, run_playbook):
    reply = {"internal_message": "Tom has left; please contact Sarah Jones.", "external_message": "Tom Baker has left Northwind Accounting.",
             "start": "2026-12-24T17:00:00+11:00", "end": "2027-01-31T17:00:00+11:00"}
    mark = last_seq(sandbox)
    planned = run_playbook(play(task("m365_mailbox", "reply", auto_reply=reply)), check=True, expect_rc=0).result("reply")
    assert planned["changed"] and sandbox.writes(since=mark) == []
    r = run_playbook(play(task("m365_mailbox", "reply", auto_reply=reply)), expect_rc=0).result("reply")
    assert r["changed"] and r["mailbox"]["auto_reply"] == {"state": "scheduled", "internal_message": reply["internal_message"],
                                                           "external_message": reply["external_message"], "external_audience": "all",
                                                           "start": "2026-12-24T06:00:00Z", "end": "2027-01-31T06:00:00Z"}
    assert mailbox(sandbox)["AutoReply"]["AutoReplyState"] == "Scheduled"
    mark = last_seq(sandbox)
    assert not run_playbook(play(task("m365_mailbox", "reply", auto_reply=reply)), expect_rc=0).result("reply")["changed"]
    assert sandbox.writes(since=mark) == []


def test_a_scrambled_password_is_never_shown_and_set_once(sandbox, run_playbook):
    options = {"account_enabled": False, "scramble_password": True, "password_changed_since": "2025-01-01T00:00:00Z", "revoke_sessions": True}
    before = [u for u in sandbox.state()["users"] if u["userPrincipalName"] == TOM][0]
    run = run_playbook(play(task("m365_user", "scramble", **options)), diff=True, verbosity=3, expect_rc=0)
    r = run.result("scramble")
    assert r["changed"] and r["password_scrambled"] and r["sessions_revoked"] and "password" not in r
    assert [c["fields"] for c in r["plan"]] == [["accountEnabled", "passwordProfile"], []]
    after = [u for u in sandbox.state()["users"] if u["userPrincipalName"] == TOM][0]
    assert after["lastPasswordChangeDateTime"] > before["lastPasswordChangeDateTime"]
    # The password the sandbox received (its secret log) is nowhere in the output, -vvv and diff included.
    with open(os.path.join(sandbox.state_dir, "secrets.jsonl")) as handle:
        sent = [json.loads(line) for line in handle if line.strip()]
    scrambled = [s["value"] for s in sent if "/users/%s" % TOM_ID in s["where"] or TOM in s["where"]]
    assert scrambled and not [value for value in scrambled if value in run.stdout]
    mark = last_seq(sandbox)
    again = run_playbook(play(task("m365_user", "scramble", **options)), expect_rc=0).result("scramble")
    assert not again["changed"] and not again["password_scrambled"] and sandbox.writes(since=mark) == []
