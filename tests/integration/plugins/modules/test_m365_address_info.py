# -*- coding: utf-8 -*-
"""m365_address_info through real ansible-playbook runs against the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.support import documented_permissions, play

TOM = "tom.baker@northwindacct.com"


def info(**options):
    return {"name": "info", "practiceprotect.m365.m365_address_info": options, "register": "r"}


def test_holders_of_each_address_and_whether_its_domain_is_accepted(sandbox, run_playbook):
    # An unlicensed user holds his sign-in name though he has no mailbox; a group holds its mail and proxy addresses.
    sandbox.seed([{"userPrincipalName": "bob.unlicensed@northwindacct.com", "displayName": "Bob Unlicensed"}],
                 groups=[{"displayName": "Partners", "mailNickname": "partners", "mail": "partners@northwindacct.com", "mailEnabled": True,
                          "proxyAddresses": ["SMTP:partners@northwindacct.com", "smtp:directors@northwindacct.com"]}])
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(play(info(addresses=["Bob.Unlicensed@northwindacct.com", "smtp:directors@northwindacct.com", TOM,
                                            "free@northwindacct.com", "someone@northwind-legacy.com"])), check=True, expect_rc=0)
    r = run.result("info")
    assert r["changed"] is False and sandbox.writes(since=mark) == []
    assert "northwindacct.com" in r["accepted_domains"] and "northwind-legacy.com" not in r["accepted_domains"]
    found = r["addresses"]
    assert [h["userPrincipalName"] for h in found["bob.unlicensed@northwindacct.com"]["holders"]] == ["bob.unlicensed@northwindacct.com"]
    assert [(h["displayName"], h["kind"]) for h in found["directors@northwindacct.com"]["holders"]] == [("Partners", "group")]
    assert [h["kind"] for h in found[TOM]["holders"]] == ["user"]
    assert found["free@northwindacct.com"] == {"domain": "northwindacct.com", "accepted": True, "holders": []}
    assert found["someone@northwind-legacy.com"]["accepted"] is False


def test_a_malformed_address_is_refused_before_any_call(sandbox, run_playbook):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(play(info(addresses=["jane@northwindacct.com", "not an address"])))
    assert run.rc == 2
    assert run.result("info")["msg"] == "addresses[1] 'not an address' is not a valid e-mail address: An email address must have an @-sign."
    assert [e for e in sandbox.log(since=mark) if e["service"] != "login"] == []


def test_documented_permissions():
    assert documented_permissions("m365_address_info") == ["User.Read.All", "GroupMember.Read.All", "Exchange.ManageAsApp"]
