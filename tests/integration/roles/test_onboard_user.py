# -*- coding: utf-8 -*-
"""The onboard_user role through the real playbooks and inventories (both deployment types, failures, re-runs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from tests.integration.support import ROOT
from tests.integration.plugins.modules.pp_support import pp_state

INVENTORY = os.path.join(ROOT, "inventory", "example")
PEOPLE = ("jane.citizen", "oliver.brown", "mia.nguyen", "liam.wilson")
ENTRA = ("jane.citizen", "oliver.brown")
FEDERATED = ("mia.nguyen", "liam.wilson")
GROUP_VARS = """
all:
  vars:
    ansible_connection: local
    onboard_usage_location: AU
    onboard_phone_region: AU
    onboard_default_licenses: [O365_BUSINESS_PREMIUM]
"""


def playbook(name):
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return handle.read()


def service_account(run_playbook):
    run_playbook(playbook("service_account.yml"), extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True},
                 expect_rc=0)


def users_by_upn(sandbox):
    return dict((u["userPrincipalName"].lower(), u) for u in sandbox.state()["users"] if u["_state"] == "active")


def roles_of(sandbox, upn):
    return sorted(r["Name"] for r in pp_state(sandbox)["roles"] if upn in [m.lower() for m in r.get("Members") or []])


def outcome(run, host):
    return run.result("Report the joiner", host)["msg"]


def per_host_tasks(run, host):
    return [t["task"] for t in run.tasks if t["host"] == host]


def inventory(tmp_path, people):
    path = tmp_path / "hosts.yml"
    path.write_text(GROUP_VARS + "  children:\n    people:\n      hosts:\n" + "".join(
        "        %s:\n%s" % (host, "".join("          %s: %s\n" % (k, json.dumps(v)) for k, v in host_vars.items()))
        for host, host_vars in people.items()))
    return str(path)


def test_plan_of_the_whole_run_writes_nothing(sandbox, run_playbook):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, check=True, diff=True, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    # Each joiner's plan is shown on their own host: the Microsoft 365 users, the Practice Protect users, and for a federated
    # joiner the Microsoft 365 user the sync will create, with the display name the sync gives it.
    assert "+++ after: Microsoft 365 account (jane.citizen@northwindacct.com)" in run.stdout
    assert "+++ after: Practice Protect account (mia.nguyen@northwindacct.com)" in run.stdout
    fed = run.stdout.split("+++ after: Microsoft 365 account, as the outbound sync will create it (mia.nguyen@northwindacct.com)")[1]
    assert '"displayName": "Mia Nguyen"' in fed.split("+++ after")[0]
    for host in PEOPLE:
        assert run.changed(host) == 1, host
        assert outcome(run, host).endswith("would be onboarded"), outcome(run, host)
    # Planning reports ok, only the joiners' own reports report a change.
    assert run.task("Onboard everyone of the play (checks, writes, activation mails, verification)", "jane.citizen")["status"] == "ok"
    assert not run.task("Onboard everyone of the play (checks, writes, activation mails, verification)", "jane.citizen")["result"]["changed"]
    assert "jane.citizen@northwindacct.com" not in users_by_upn(sandbox)


def test_onboard_both_deployment_types_then_nothing_to_do(sandbox, run_playbook):
    service_account(run_playbook)
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, verbosity=3, expect_rc=0)
    users = users_by_upn(sandbox)
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in sandbox.state()["skus"])

    # entra_source (seed 001): the Microsoft 365 user with licence, mobile in E.164, aliases; invited; roles.
    jane = users["jane.citizen@northwindacct.com"]
    assert [skus[lic["skuId"]] for lic in jane["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]
    assert jane["mobilePhone"] == "+61412345678" and jane["usageLocation"] == "AU" and jane["accountEnabled"] is True
    assert {"smtp:jane@northwindacct.com", "smtp:j.citizen@northwindacct.com", "SMTP:jane.citizen@northwindacct.com"} <= set(jane["proxyAddresses"])
    assert "Portal Access" in roles_of(sandbox, "jane.citizen@northwindacct.com")
    # copy_from: Oliver gets Sarah's roles, but never the role that drives outbound provisioning (he is entra_source).
    oliver_roles = set(roles_of(sandbox, "oliver.brown@northwindacct.com"))
    assert {"Portal Access", "Audit Team"} <= oliver_roles and "Office 365" not in oliver_roles
    assert "Office 365 (drives outbound provisioning)" in " ".join(run.result("Report the joiner", "oliver.brown")["steps"])

    # federated (seed 000): Practice Protect user with the attribute, Office 365 role, provisioned by the sync.
    mia = users["mia.nguyen@northwindacct.com"]
    assert "smtp:mia@northwindacct.com" in mia["proxyAddresses"] and mia["displayName"] == "Mia Nguyen"
    assert [skus[lic["skuId"]] for lic in mia["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]
    assert "Office 365" in roles_of(sandbox, "mia.nguyen@northwindacct.com")
    assert {"Office 365", "Portal Access"} <= set(roles_of(sandbox, "liam.wilson@northwindacct.com"))

    # Per-person recap and result; two tasks per joiner's host (Ansible's argument validation is the engine's own check).
    for host in PEOPLE:
        assert run.stats[host]["failures"] == 0 and run.changed(host) == 1, host
        assert len(per_host_tasks(run, host)) <= 2, per_host_tasks(run, host)
    facts = dict((t["host"], t["result"]["ansible_facts"]["onboard_result"]) for t in run.tasks if "onboard_result" in (t["result"].get("ansible_facts") or {}))
    assert facts["mia.nguyen"]["sync"] == "provisioned, licences: O365_BUSINESS_PREMIUM"
    assert facts["jane.citizen"]["password_delivery"] == "mailed to sarah.jones@northwindacct.com"
    # The run's summary for AWX (set_stats) and the Markdown report.
    report = run.custom["_run"]["onboard_report"]
    assert sorted(report) == sorted("%s@northwindacct.com" % h for h in PEOPLE)
    assert report["mia.nguyen@northwindacct.com"]["outcome"] == "mia.nguyen@northwindacct.com: onboarded"

    # The activation mails went to the manager; the passwords in them never reached the -vvv output nor the report.
    mails = sandbox.mail()
    assert len(mails) == 4
    passwords = [re.search(r"Temporary password: (\S+)", m["content"]).group(1) for m in mails]
    assert len(set(passwords)) == 4
    engine = run.result("Onboard everyone of the play (checks, writes, activation mails, verification)", "jane.citizen")
    with open(engine["report"]["markdown"]) as handle:
        markdown = handle.read()
    assert "| 4 | 4 | 0 | 0 |" in markdown
    for secret in passwords:
        assert secret not in run.stdout and secret not in markdown
    # No account keeps the pending-activation marker once its mail went.
    assert not [u for u in sandbox.state()["users"] if u.get("_extensions")]

    # The same inventory again: nothing changes and nothing is written.
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    for host in PEOPLE:
        assert again.changed(host) == 0, host
        assert outcome(again, host).endswith("already as requested")
    assert len(sandbox.mail()) == 4


def test_limit_onboards_only_that_person(sandbox, run_playbook):
    run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit="jane.citizen", expect_rc=0)
    users = users_by_upn(sandbox)
    assert "jane.citizen@northwindacct.com" in users
    assert "oliver.brown@northwindacct.com" not in users
    assert not [m for m in pp_state(sandbox)["users"] if m["Name"].lower().startswith("mia.nguyen")]


def test_mixed_inventory_without_the_service_account_completes_entra_and_a_relaunch_completes_the_rest(sandbox, run_playbook):
    # No service account: the outbound sync of the federated joiners fails. Nothing else may be lost with it.
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, expect_rc=2)
    for host in ENTRA:
        assert run.stats[host]["failures"] == 0 and outcome(run, host).endswith(": onboarded"), outcome(run, host)
    for host in FEDERATED:
        assert run.stats[host]["failures"] == 1, host
        assert "outbound provisioning to Microsoft 365" in outcome(run, host) and "service account" in outcome(run, host)
        assert "relaunch on failed hosts" in outcome(run, host)
    assert len(sandbox.mail()) == 4  # every new account's password went out, the federated ones before the sync failed
    assert "jane.citizen@northwindacct.com" in users_by_upn(sandbox)

    # The fix, then AWX's relaunch on failed hosts: only those hosts, and they complete.
    service_account(run_playbook)
    relaunch = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit=",".join(FEDERATED), expect_rc=0)
    for host in FEDERATED:
        assert relaunch.stats[host]["failures"] == 0 and relaunch.changed(host) == 1, host
    users = users_by_upn(sandbox)
    assert "mia.nguyen@northwindacct.com" in users and "liam.wilson@northwindacct.com" in users
    upns = [u["userPrincipalName"].lower() for u in sandbox.state()["users"]]
    assert len(upns) == len(set(upns))  # nobody created twice
    assert len([u for u in pp_state(sandbox)["users"] if u["Name"].lower().startswith(("mia.nguyen@", "liam.wilson@"))]) == 2
    assert len(sandbox.mail()) == 4


def test_practice_protect_unreachable_refuses_who_needs_it_before_any_write(sandbox, run_playbook):
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, env={"PP_URL": "https://127.0.0.1:9", "PP_RETRY_DEADLINE": "2"}, expect_rc=2)
    # Everyone has a Practice Protect role (or copies one): the role check before any write cannot be made, so nobody is half done.
    assert sandbox.writes() == []
    for host in PEOPLE:
        assert run.stats[host]["failures"] == 1, host
        assert "nothing was written for them" in outcome(run, host).lower(), outcome(run, host)


def test_bad_people_are_refused_before_any_write_with_their_field_named(sandbox, run_playbook, tmp_path):
    sandbox.seed([{"userPrincipalName": "bob.unlicensed@northwindacct.com", "displayName": "Bob Unlicensed"}])
    hosts = inventory(tmp_path, {
        "legacy.person": {"person": {"upn": "legacy.person@northwind-legacy.com", "given_name": "Legacy"}},
        "bad.phone": {"person": {"upn": "bad.phone@northwindacct.com", "mobile_phone": "+61 412"}},
        "bad.alias": {"person": {"upn": "bad.alias@northwindacct.com", "aliases": ["not an address"]}},
        "bad.domain": {"person": {"upn": "bad.domain@northwindacct.com", "aliases": ["bd@northwind-legacy.com"]}},
        "takes.bob": {"person": {"upn": "takes.bob@northwindacct.com", "aliases": ["bob.unlicensed@northwindacct.com"]}},
        "bad.type": {"onboard_deployment": "hybrid", "person": {"upn": "bad.type@northwindacct.com"}},
        "bad.upn": {"person": {"upn": "jane@@northwindacct.com"}},
        "typo": {"onboard_default_licences": ["O365_BUSINESS_PREMIUM"], "person": {"upn": "typo@northwindacct.com"}},
        # Zoe asks for Ava's own sign-in name: Zoe is refused, Ava keeps it and is onboarded.
        "zoe": {"person": {"upn": "zoe@northwindacct.com", "aliases": ["ava@northwindacct.com"]}},
        "ava": {"person": {"upn": "ava@northwindacct.com"}},
    })
    before = set(users_by_upn(sandbox))
    pp_before = set(u["Name"].lower() for u in pp_state(sandbox)["users"])
    run = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=2)
    # Only Ava was written: the tenant gained her and nobody else, in Microsoft 365 and in Practice Protect.
    assert set(users_by_upn(sandbox)) - before == {"ava@northwindacct.com"}
    assert set(u["Name"].lower() for u in pp_state(sandbox)["users"]) - pp_before == {"ava@northwindacct.com"}
    expected = {
        "legacy.person": "The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for person.upn.",
        "bad.phone": "person.mobile_phone '+61 412' is not a valid number for country code +61 (AU)",
        "bad.alias": "person.aliases[0] 'not an address' is not a valid e-mail address",
        "bad.domain": "person.aliases bd@northwind-legacy.com is on northwind-legacy.com, which is not an accepted domain",
        "takes.bob": "person.aliases bob.unlicensed@northwindacct.com already belongs to Bob Unlicensed (bob.unlicensed@northwindacct.com)",
        "bad.type": "value of onboard_deployment must be one of: federated, entra_source, got: hybrid",
        "bad.upn": "person.upn 'jane@@northwindacct.com' must look like name@domain",
        "typo": "onboard_default_licences (did you mean onboard_default_licenses?)",
        "zoe": "person.aliases ava@northwindacct.com is the own address of ava@northwindacct.com",
    }
    for host, fragment in expected.items():
        assert run.stats[host]["failures"] == 1, host
        assert fragment in outcome(run, host), outcome(run, host)
        assert "nothing was written for them" in outcome(run, host).lower()
        assert "argument_spec" not in json.dumps(run.result("Report the joiner", host))
    assert run.stats["ava"]["failures"] == 0 and "ava@northwindacct.com" in users_by_upn(sandbox)


def test_a_slice_without_joiners_ends_ok_and_an_empty_named_target_fails(sandbox, run_playbook, tmp_path):
    only_leavers = tmp_path / "leavers.yml"
    only_leavers.write_text("all:\n  children:\n    leavers:\n      hosts:\n        tom.baker:\n          person: {upn: tom.baker@northwindacct.com}\n")
    run = run_playbook(playbook("onboard.yml"), inventory=str(only_leavers), expect_rc=0)
    assert "Nobody to onboard" in run.stdout
    named = run_playbook(playbook("onboard.yml"), inventory=str(only_leavers), extra_vars={"onboard_hosts": "jane.citizn"}, expect_rc=2)
    assert "names no host of this inventory" in named.stdout
    assert sandbox.writes() == []


def test_a_joiner_whose_mail_did_not_go_gets_a_new_password_on_the_next_run(sandbox, run_playbook):
    sandbox.configure(faults=[{"path": "sendMail$", "kind": "status", "status": 500}])
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit="jane.citizen", expect_rc=2)
    assert "activation mail" in outcome(run, "jane.citizen") and "sets a new password and mails it" in outcome(run, "jane.citizen")
    jane = users_by_upn(sandbox)["jane.citizen@northwindacct.com"]
    assert [e.get("activation") for e in jane["_extensions"]] == ["pending"]

    sandbox.configure(faults=[])
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit="jane.citizen", expect_rc=0)
    assert again.changed("jane.citizen") == 1
    mails = sandbox.mail()
    assert len(mails) == 1 and "jane.citizen@northwindacct.com" in mails[0]["content"]
    assert not users_by_upn(sandbox)["jane.citizen@northwindacct.com"]["_extensions"]
    # A new password was set on the account, then mailed (the first one was never kept anywhere).
    steps = [("password" if "passwordProfile" in e.get("body_keys", []) else "mail") for e in sandbox.log(since=mark)
             if (e["method"] == "PATCH" and "passwordProfile" in e.get("body_keys", [])) or e["path"].endswith("/sendMail")]
    assert steps == ["password", "mail"], steps
    third = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit="jane.citizen", expect_rc=0)
    assert third.changed("jane.citizen") == 0 and len(sandbox.mail()) == 1


def group_members(sandbox, name):
    return sorted(m["name"] for g in sandbox.state()["groups"] if g["displayName"] == name for m in g["members"])


def test_a_joiner_gets_groups_and_a_similar_users_groups_and_an_unknown_group_is_refused_before_any_write(sandbox, run_playbook, tmp_path):
    gina = "gina.rossi@northwindacct.com"
    hosts = inventory(tmp_path, {
        "gina.rossi": {"person": {"upn": gina, "given_name": "Gina", "surname": "Rossi", "groups": ["All Staff", "clientservices@northwindacct.com"],
                                  "groups_copy_from": "tom.baker@northwindacct.com"}},
        "typo.group": {"person": {"upn": "typo.group@northwindacct.com", "given_name": "Typo", "groups": ["Tax Teem"]}},
    })
    before = set(users_by_upn(sandbox))
    run = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=2)
    assert set(users_by_upn(sandbox)) - before == {gina}
    assert "person.groups: no group of this tenant has the display name, mail address or object id 'Tax Teem'" in outcome(run, "typo.group")
    assert "nothing was written for them" in outcome(run, "typo.group").lower()
    assert run.stats["gina.rossi"]["failures"] == 0, outcome(run, "gina.rossi")
    for name in ("All Staff", "Client Services", "Tax Team", "Tax Announcements", "File Share Access"):
        assert gina in group_members(sandbox, name), name
    for name in ("Licensed Staff", "Head Office", "Helpdesk Admins"):
        assert gina not in group_members(sandbox, name), name
    steps = run.result("Onboard everyone of the play (checks, writes, activation mails, verification)", "gina.rossi")
    report = json.dumps(run.result("Report the joiner", "gina.rossi"))
    assert "Microsoft 365 groups: added to" in report and "not copied from tom.baker@northwindacct.com" in report, (steps, report)
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("onboard.yml"), inventory=hosts, limit="gina.rossi", expect_rc=0)
    assert again.changed("gina.rossi") == 0 and sandbox.writes(since=mark) == []
