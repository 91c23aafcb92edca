# -*- coding: utf-8 -*-
"""The onboard_user role through the real playbooks and the example inventory (both deployment types)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from tests.integration.support import ROOT
from tests.integration.plugins.modules.pp_support import pp_state

INVENTORY = os.path.join(ROOT, "inventory", "example")
PEOPLE = ("jane.citizen", "oliver.brown", "mia.nguyen", "liam.wilson")


def playbook(name):
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return handle.read()


def service_account(run_playbook):
    run_playbook(playbook("service_account.yml"), extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True},
                 expect_rc=0)


def users_by_upn(sandbox):
    return dict((u["userPrincipalName"].lower(), u) for u in sandbox.state()["users"])


def roles_of(sandbox, upn):
    return sorted(r["Name"] for r in pp_state(sandbox)["roles"] if upn in [m.lower() for m in r.get("Members") or []])


def test_plan_of_the_whole_run_writes_nothing(sandbox, run_playbook):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, check=True, diff=True, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    # The plan shows every joiner: the Microsoft 365 users as diffs, the Practice Protect users as creations.
    assert "+++ after: jane.citizen@northwindacct.com" in run.stdout
    assert "+++ after: oliver.brown@northwindacct.com" in run.stdout
    for host in PEOPLE:
        assert run.changed(host) >= 1, host
    assert "jane.citizen@northwindacct.com" not in users_by_upn(sandbox)


def test_onboard_both_deployment_types_then_nothing_to_do(sandbox, run_playbook):
    service_account(run_playbook)
    run = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, verbosity=3, expect_rc=0)
    users = users_by_upn(sandbox)
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in sandbox.state()["skus"])

    # entra_source (seed 001): the Microsoft 365 user with licence, mobile in E.164, aliases; invited; roles.
    jane = users["jane.citizen@northwindacct.com"]
    assert [skus[lic["skuId"]] for lic in jane["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]
    assert jane["mobilePhone"] == "+61412345678" and jane["usageLocation"] == "AU"
    assert {"smtp:jane@northwindacct.com", "smtp:j.citizen@northwindacct.com", "SMTP:jane.citizen@northwindacct.com"} <= set(jane["proxyAddresses"])
    assert roles_of(sandbox, "jane.citizen@northwindacct.com") == ["Everybody", "Portal Access"] or \
        "Portal Access" in roles_of(sandbox, "jane.citizen@northwindacct.com")
    # copy_from: Oliver gets Sarah's roles (not Everybody, which is implicit).
    oliver_roles = set(roles_of(sandbox, "oliver.brown@northwindacct.com"))
    assert {"Office 365", "Portal Access", "Audit Team"} <= oliver_roles

    # federated (seed 000): Practice Protect user with the attribute, Office 365 role, provisioned by the sync.
    mia = users["mia.nguyen@northwindacct.com"]
    assert "smtp:mia@northwindacct.com" in mia["proxyAddresses"]
    assert [skus[lic["skuId"]] for lic in mia["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]
    assert "Office 365" in roles_of(sandbox, "mia.nguyen@northwindacct.com")
    assert {"Office 365", "Portal Access"} <= set(roles_of(sandbox, "liam.wilson@northwindacct.com"))

    # Per-person recap and result.
    for host in PEOPLE:
        assert run.stats[host]["failures"] == 0 and run.changed(host) >= 1, host
    report = [t["result"]["ansible_facts"]["onboard_result"] for t in run.tasks if "onboard_result" in (t["result"].get("ansible_facts") or {})]
    by_upn = dict((r["upn"], r) for r in report)
    assert by_upn["mia.nguyen@northwindacct.com"]["sync"] == "provisioned, licences: O365_BUSINESS_PREMIUM"
    assert by_upn["jane.citizen@northwindacct.com"]["password_delivery"] == "mailed to sarah.jones@northwindacct.com"

    # The activation mails went to the manager; the passwords in them never reached the -vvv output.
    mails = sandbox.mail()
    assert len(mails) == 4
    passwords = [re.search(r"Temporary password: (\S+)", m["content"] if "content" in m else m["body"]["content"]).group(1) for m in mails]
    assert len(set(passwords)) == 4
    for secret in passwords:
        assert secret not in run.stdout

    # The same inventory again: nothing changes and nothing is written.
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("onboard.yml"), inventory=INVENTORY, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    for host in PEOPLE:
        assert again.changed(host) == 0, host
    assert len(sandbox.mail()) == 4


def test_limit_onboards_only_that_person(sandbox, run_playbook):
    run_playbook(playbook("onboard.yml"), inventory=INVENTORY, limit="jane.citizen", expect_rc=0)
    users = users_by_upn(sandbox)
    assert "jane.citizen@northwindacct.com" in users
    assert "oliver.brown@northwindacct.com" not in users
    assert not [m for m in pp_state(sandbox)["users"] if m["Name"].lower().startswith("mia.nguyen")]


def test_bad_person_stops_before_any_write(sandbox, run_playbook, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("""
all:
  vars:
    ansible_connection: local
    onboard_usage_location: AU
    onboard_default_licenses: [O365_BUSINESS_PREMIUM]
  children:
    people:
      hosts:
        legacy.person:
          person: {upn: legacy.person@northwind-legacy.com, given_name: Legacy}
        bad.phone:
          person: {upn: bad.phone@northwindacct.com, mobile_phone: "12"}
        bad.alias:
          person: {upn: bad.alias@northwindacct.com, aliases: ["not an address"]}
        bad.type:
          onboard_deployment: hybrid
          person: {upn: bad.type@northwindacct.com}
""")
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(playbook("onboard.yml"), inventory=str(inventory), expect_rc=2)
    assert sandbox.writes(since=mark) == []
    for host in ("legacy.person", "bad.phone", "bad.alias", "bad.type"):
        assert run.stats[host]["failures"] == 1, host
    assert "northwind-legacy.com is not a verified domain" in run.stdout or "northwind-legacy.com" in run.stdout
    assert "value of onboard_deployment must be one of: federated, entra_source, got: hybrid" in run.stdout
    assert "not an address" in run.stdout
