# -*- coding: utf-8 -*-
"""m365_group_member through real ansible-playbook runs against the sandbox.

The default seed: Tax Team and All Staff (security), Client Services (Microsoft 365, a team's group), Tax Announcements
(distribution list), File Share Access (mail-enabled security), Licensed Staff (dynamic), Head Office (synced from
on-premises) and Helpdesk Admins (role-assignable); tom.baker is in every one of them but All Staff."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.support import last_seq, play

TOM = "tom.baker@northwindacct.com"
SARAH = "sarah.jones@northwindacct.com"
JANE = "jane.citizen@northwindacct.com"
TAX_TEAM = "3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04"
CLIENT_SERVICES = "8a1d3f5b-7c9e-4b2d-a6f8-1e3c5a7b9d26"
TAX_ANNOUNCEMENTS = "2b7e4c9a-5d1f-4a3b-8e6c-0f2a4b6d8e37"
FILE_SHARE = "5e9c2a7d-3b8f-4c1e-9a5d-7b3f1c9e5a48"


def task(name="groups", ignore_errors=False, **options):
    out = {"name": name, "practiceprotect.m365.m365_group_member": options, "register": name}
    if ignore_errors:
        out["ignore_errors"] = True
    return out


def seed_joiner(sandbox):
    sandbox.seed([{"userPrincipalName": JANE, "displayName": "Jane Citizen", "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}])


def members(sandbox, group_id):
    (group,) = [g for g in sandbox.state()["groups"] if g["id"] == group_id]
    return sorted(m["name"] for m in group["members"])


def writes(sandbox, since):
    return [(w["service"], w["method"], w.get("cmdlet") or w["path"], w["status"]) for w in sandbox.writes(since)]


def test_a_joiner_into_a_security_group_a_team_and_a_distribution_list_then_nothing_changes(sandbox, run_playbook):
    seed_joiner(sandbox)
    groups = {"add": ["Tax Team", "clientservices@northwindacct.com", TAX_ANNOUNCEMENTS]}
    mark = last_seq(sandbox)
    checked = run_playbook(play(task(user=JANE, groups=groups)), check=True, diff=True, expect_rc=0)
    r = checked.result("groups")
    assert r["changed"] and r["added"] == ["Tax Team", "Client Services", "Tax Announcements"] and writes(sandbox, mark) == []
    assert [(c["service"], c["action"], c.get("cmdlet") or c["path"]) for c in r["plan"]] == [
        ("exchange", "add", "Add-DistributionGroupMember"), ("graph", "add", "/groups/%s/members/$ref" % TAX_TEAM),
        ("graph", "add", "/groups/%s/members/$ref" % CLIENT_SERVICES)]
    assert r["diff"] == {"before": {"groups": []}, "after": {"groups": [
        "Client Services (Microsoft 365 group)", "Tax Announcements (distribution list)", "Tax Team (security group)"]}}

    run = run_playbook(play(task(user=JANE, groups=groups)), expect_rc=0)
    r = run.result("groups")
    assert r["changed"] and sorted(g["name"] for g in r["groups"]) == ["Client Services", "Tax Announcements", "Tax Team"]
    assert [g["kind"] for g in r["groups"]] == ["microsoft365", "distribution", "security"]
    assert writes(sandbox, mark) == [("exchange", "POST", "Add-DistributionGroupMember", 200),
                                     ("graph", "POST", "/v1.0/groups/%s/members/$ref" % TAX_TEAM, 204),
                                     ("graph", "POST", "/v1.0/groups/%s/members/$ref" % CLIENT_SERVICES, 204)]
    for group in (TAX_TEAM, CLIENT_SERVICES, TAX_ANNOUNCEMENTS):
        assert JANE in members(sandbox, group)

    mark = last_seq(sandbox)
    again = run_playbook(play(task(user=JANE, groups=groups)), expect_rc=0)
    assert not again.result("groups")["changed"] and again.result("groups")["plan"] == [] and writes(sandbox, mark) == []


def test_copy_from_gives_the_managed_groups_and_names_the_skipped_ones(sandbox, run_playbook):
    seed_joiner(sandbox)
    run = run_playbook(play(task(user=JANE, copy_from=TOM)), expect_rc=0)
    r = run.result("groups")
    assert sorted(r["added"]) == ["Client Services", "File Share Access", "Tax Announcements", "Tax Team"]
    assert r["copy_skipped"] == {"Head Office": "synced from on-premises", "Helpdesk Admins": "role-assignable",
                                 "Licensed Staff": "dynamic membership"}
    assert JANE in members(sandbox, FILE_SHARE) and JANE in members(sandbox, TAX_TEAM)
    mark = last_seq(sandbox)
    again = run_playbook(play(task(user=JANE, copy_from=TOM)), expect_rc=0)
    assert not again.result("groups")["changed"] and writes(sandbox, mark) == []


def test_set_removes_the_others_leaves_the_unmanaged_ones_and_items_batch(sandbox, run_playbook):
    run = run_playbook(play(task(user=TOM, groups={"set": ["Tax Team", "All Staff"]}, max_removals=3)), diff=True, expect_rc=0)
    r = run.result("groups")
    assert r["added"] == ["All Staff"] and sorted(r["removed"]) == ["Client Services", "File Share Access", "Tax Announcements"]
    assert r["kept"] == {"Head Office": "synced from on-premises", "Helpdesk Admins": "role-assignable",
                         "Licensed Staff": "dynamic membership"}
    assert TOM not in members(sandbox, TAX_ANNOUNCEMENTS) and TOM in members(sandbox, "7d4b1e8c-9a2f-4d6b-b3c7-5e1a9d4f2b59")
    seed_joiner(sandbox)
    sandbox.seed([{"userPrincipalName": "oliver.brown@northwindacct.com", "displayName": "Oliver Brown"}])
    mark = last_seq(sandbox)
    items = [{"user": JANE, "groups": {"add": ["Tax Team", "Client Services"]}},
             {"user": "oliver.brown@northwindacct.com", "groups": {"add": ["Tax Team", "Client Services"]}}]
    run = run_playbook(play(task(items=items)), expect_rc=0)
    r = run.result("groups")
    # Inside $batch requests: the two people's groups read while planning, then the four adds.
    assert r["changed"] and r["failed_items"] == [] and r.get("graph_batched_calls") == 6
    assert len(writes(sandbox, mark)) == 4 and JANE in members(sandbox, CLIENT_SERVICES)


def test_refusals_come_before_any_write(sandbox, run_playbook):
    seed_joiner(sandbox)
    sandbox.seed([], [{"displayName": "Projects"},
                      {"displayName": "Projects", "mailEnabled": True, "securityEnabled": False, "mail": "projects@northwindacct.com"}])
    mark = last_seq(sandbox)
    run = run_playbook(play(
        task("ambiguous", True, user=JANE, groups={"add": ["Tax Team", "Projects"]}),
        task("unknown", True, user=JANE, groups={"add": ["Tax Teem"]}),
        task("kinds", True, user=JANE, groups={"add": ["Licensed Staff", "Head Office", "Helpdesk Admins"]}),
        task("limit", True, user=TOM, groups={"set": []}, max_removals=1),
    ))
    ambiguous = run.result("ambiguous")["msg"]
    assert ambiguous.startswith("groups: 'Projects' is the name of 2 groups: ") and "(distribution list)" in ambiguous
    assert run.result("unknown")["msg"] == ("groups: no group of this tenant has the display name, mail address or object id 'Tax Teem'; "
                                            "check the spelling, or give the group's object id.")
    kinds = run.result("kinds")["msg"]
    assert kinds.startswith("Refused before any change: groups.add: %s cannot be given Licensed Staff: its members come from its "
                            "membership rule" % JANE)
    assert "Head Office: it is synced from on-premises Active Directory; change its members there" in kinds
    assert "Helpdesk Admins: it is role-assignable, so its members hold a directory role; set allow_role_assignable: true" in kinds
    limit = run.result("limit")
    assert limit["field"] == "max_removals" and limit["removal_limit"] == 1 and len(limit["refused_removals"]) == 4
    assert writes(sandbox, mark) == []


def test_graph_refuses_distribution_list_writes_as_graph_does(sandbox):
    """Why the module changes distribution lists through Exchange: Graph's answer to a $ref write to one."""
    with sandbox.graph_session() as graph:
        response = graph.post(sandbox.graph_url + "/groups/%s/members/$ref" % TAX_ANNOUNCEMENTS,
                              json={"@odata.id": sandbox.graph_url + "/directoryObjects/0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"
    assert response.json()["error"]["message"] == "Cannot Update a mail-enabled security groups and or distribution list."
