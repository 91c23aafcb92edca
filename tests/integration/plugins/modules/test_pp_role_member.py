# -*- coding: utf-8 -*-
"""pp_role_member through real ansible-playbook runs against the sandbox's Practice Protect tenant."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.plugins.modules.pp_support import (client_with_rights, documented_pp_rights, mark, pp_state, pp_user,
                                                          pp_writes, role_members, task)
from tests.integration.support import play

JANE = "jane.citizen@northwindacct.com"
OFFICE365_ROLE = "b1a6c3d2_4e5f_4a7b_8c9d_0e1f2a3b4c5d"


def member_task(title="members", register="r", **options):
    return task("pp_role_member", title, register, **options)


def create_jane():
    return task("pp_user", "jane", name=JANE, display_name="Jane Citizen", mail=JANE)


def test_add_rerun_and_remove(sandbox, run_playbook):
    run = run_playbook(play(create_jane(), member_task(role="Audit Team", members=[JANE, "tom.baker@northwindacct.com"])), expect_rc=0)
    r = run.result("members")
    assert r["changed"] and r["added"] == {"Audit Team": [JANE, "tom.baker@northwindacct.com"]} and r["removed"] == {}
    assert [c["path"] for c in r["plan"]] == ["/Roles/UpdateRole"]
    assert role_members(sandbox, "Audit Team") == [JANE, "sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]

    since = mark(sandbox)
    again = run_playbook(play(member_task(role="Audit Team", members=[JANE.upper(), "tom.baker@northwindacct.com"])), expect_rc=0)
    assert not again.result("members")["changed"] and again.changed() == 0
    assert sandbox.writes(since=since) == []

    gone = run_playbook(play(member_task(role="audit team", members=["tom.baker@northwindacct.com"], state="absent")), expect_rc=0)
    r = gone.result("members")
    assert r["removed"] == {"Audit Team": ["tom.baker@northwindacct.com"]} and r["added"] == {}
    assert role_members(sandbox, "Audit Team") == [JANE, "sarah.jones@northwindacct.com"]


def test_members_by_email(sandbox, run_playbook):
    sandbox.control("POST", "pp/seed", json={"users": [{"Name": "kim@northwindacct.com", "Mail": "kim.ng@northwindacct.com"}]})
    run = run_playbook(play(member_task(role="Tax Team", members=["kim.ng@northwindacct.com"])), expect_rc=0)
    assert run.result("members")["added"] == {"Tax Team": ["kim@northwindacct.com"]}


def test_copy_from_a_similar_user_never_touches_everybody_nor_the_provisioning_and_admin_roles(sandbox, run_playbook):
    tasks = [create_jane(), member_task(copy_from="tom.baker@northwindacct.com", members=[JANE])]
    run = run_playbook(play(*tasks), diff=True, expect_rc=0)
    r = run.result("members")
    assert r["roles"] == ["Portal Access", "Tax Team"]
    assert r["added"] == {"Portal Access": [JANE], "Tax Team": [JANE]}
    # Office 365 is the role the Office 365 app provisions: copying it would put Jane under outbound provisioning.
    assert r["copy_skipped"] == {"Office 365": "drives outbound provisioning"}
    assert JANE not in r["diff"]["before"]["Tax Team"] and JANE in r["diff"]["after"]["Tax Team"]
    assert sorted(pp_user(sandbox, JANE)["Roles"]) == ["Everybody", "Portal Access", "Tax Team"]
    updates = [w for w in pp_writes(sandbox) if w["path"] == "/Roles/UpdateRole"]
    assert len(updates) == 2  # one per copied role, none for Everybody or Office 365
    # A template user with an administrative role: that role is not copied either, and neither is one in copy_exclude.
    admin = run_playbook(play(member_task(copy_from="ansible.automation@northwindacct.com", members=["sarah.jones@northwindacct.com"],
                                          copy_exclude=["Tax Team"])), expect_rc=0).result("members")
    assert admin["copy_skipped"]["System Administrator"].startswith("administrative (")
    assert "System Administrator" not in pp_user(sandbox, "sarah.jones@northwindacct.com")["Roles"]
    since = mark(sandbox)
    again = run_playbook(play(*tasks), expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=since) == []


def test_exclusive_and_its_threshold(sandbox, run_playbook):
    before = role_members(sandbox, "Portal Access")
    assert before == ["priya.patel@northwindacct.com", "reception@northwindacct.com", "sarah.jones@northwindacct.com",
                      "tom.baker@northwindacct.com"]
    refused = run_playbook(play(member_task(role="Portal Access", members=["sarah.jones@northwindacct.com"], exclusive=True,
                                            max_removals=2)))
    assert refused.rc == 2
    assert refused.result("members")["msg"] == (
        "Refusing to remove 3 members from role Portal Access: more than max_removals (2). Those not listed in members would be removed: "
        "priya.patel@northwindacct.com, reception@northwindacct.com, tom.baker@northwindacct.com. Add them to members, or raise "
        "max_removals if this is intended.")
    assert sandbox.writes() == [] and role_members(sandbox, "Portal Access") == before

    run = run_playbook(play(member_task(role="Portal Access", members=["sarah.jones@northwindacct.com", "priya.patel@northwindacct.com"],
                                        exclusive=True, max_removals=2)), expect_rc=0)
    r = run.result("members")
    assert r["removed"] == {"Portal Access": ["reception@northwindacct.com", "tom.baker@northwindacct.com"]} and r["added"] == {}
    assert role_members(sandbox, "Portal Access") == ["priya.patel@northwindacct.com", "sarah.jones@northwindacct.com"]
    writes = pp_writes(sandbox)
    assert [(w["path"], w["body_keys"]) for w in writes] == [("/Roles/UpdateRole", ["Name", "Users"])]


def test_percentage_threshold_and_unknown_members_skipped(sandbox, run_playbook):
    refused = member_task(title="refused", role="Portal Access", members=["sarah.jones@northwindacct.com"], exclusive=True,
                          max_removals_percent=50)
    refused["ignore_errors"] = True
    tasks = [refused,
             member_task(title="skip", role="Tax Team", members=["tom.baker@northwindacct.com", "nobody@northwindacct.com",
                                                                 "priya.patel@northwindacct.com", "sarah.jones@northwindacct.com"],
                         exclusive=True, skip_unknown_members=True, max_removals_percent=10),
             member_task(title="one leaver", role="Tax Team", members=["tom.baker@northwindacct.com", "sarah.jones@northwindacct.com"],
                         exclusive=True, max_removals_percent=10)]
    run = run_playbook(play(*tasks), expect_rc=0)
    r = run.task("refused")
    assert r["status"] == "failed"
    assert r["result"]["msg"] == (
        "Refusing to remove 3 members from role Portal Access: more than the limit of 2 (max_removals_percent: 50% of the role's 4 user "
        "members, rounded down, at least 1). Those not listed in members would be removed: priya.patel@northwindacct.com, "
        "reception@northwindacct.com, tom.baker@northwindacct.com. Add them to members, or raise max_removals_percent if this is intended.")
    assert r["result"]["field"] == "max_removals" and r["result"]["removal_limit"] == 2
    assert r["result"]["refused_removals"] == ["priya.patel@northwindacct.com", "reception@northwindacct.com", "tom.baker@northwindacct.com"]
    assert len(role_members(sandbox, "Portal Access")) == 4

    r = run.result("skip")
    assert r["added"] == {"Tax Team": ["sarah.jones@northwindacct.com"]} and r["removed"] == {}
    assert r["skipped_members"] == ["nobody@northwindacct.com"] and r["removal_limit"] == 1
    r = run.result("one leaver")  # 10% of 3 rounds down to 0, but one leaver can always go
    assert r["removed"] == {"Tax Team": ["priya.patel@northwindacct.com"]} and r["removal_limit"] == 1
    assert role_members(sandbox, "Tax Team") == ["sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]
    assert [w["path"] for w in pp_writes(sandbox)] == ["/Roles/UpdateRole", "/Roles/UpdateRole"]


def test_check_mode_and_diff_write_nothing(sandbox, run_playbook):
    run = run_playbook(play(member_task(role="Tax Team", members=["sarah.jones@northwindacct.com"])), check=True, diff=True, expect_rc=0)
    r = run.result("members")
    assert r["changed"] and r["added"] == {"Tax Team": ["sarah.jones@northwindacct.com"]}
    assert r["diff"]["before"]["Tax Team"] == ["priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]
    assert r["diff"]["after"]["Tax Team"] == ["priya.patel@northwindacct.com", "sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]
    assert sandbox.writes() == []
    assert role_members(sandbox, "Tax Team") == ["priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]


def test_a_change_to_the_office365_role_queues_a_sync(sandbox, run_playbook):
    run_playbook(play(create_jane(), member_task(role="Office 365", members=[JANE])), expect_rc=0)
    jobs = pp_state(sandbox)["jobs"]
    assert len(jobs) == 1
    assert jobs[0]["Trigger"] == "RoleMembershipChange" and jobs[0]["State"] == "Queued"
    assert jobs[0]["Users"] == [pp_user(sandbox, JANE)["ID"]]
    run_playbook(play(member_task(role="Tax Team", members=[JANE])), expect_rc=0)
    assert len(pp_state(sandbox)["jobs"]) == 1  # Tax Team feeds no provisioning


BAD_INPUTS = [
    ("unknown role", dict(role="Tax team members", members=[JANE]), "Unknown role 'Tax team members'. Close matches: Tax Team."),
    ("unknown role, no match", dict(role="Payroll", members=[JANE]),
     "Unknown role 'Payroll'. Roles: Audit Team, Everybody, Office 365, Portal Access, System Administrator, Tax Team."),
    ("unknown users", dict(role="Tax Team", members=["sarah.jone@northwindacct.com", "zed@example.org"]),
     "Unknown users: no Practice Protect user has the login name or e-mail sarah.jone@northwindacct.com (close matches: "
     "sarah.jones@northwindacct.com); zed@example.org (no close match). Invite or create the user first (pp_user)."),
    ("unknown template", dict(copy_from="tom.bakr@northwindacct.com", members=["sarah.jones@northwindacct.com"]),
     "Unknown user: no Practice Protect user has the login name or e-mail tom.bakr@northwindacct.com (close matches: "
     "tom.baker@northwindacct.com). Invite or create the user first (pp_user)."),
    ("everybody", dict(role="Everybody", members=["sarah.jones@northwindacct.com"]),
     "Everybody holds every user implicitly and cannot be changed; choose another role."),
    ("neither", dict(members=["sarah.jones@northwindacct.com"]), "Give role (a role name) or copy_from (a user whose roles to copy)."),
    ("exclusive without role", dict(copy_from="tom.baker@northwindacct.com", members=["sarah.jones@northwindacct.com"], exclusive=True),
     "exclusive applies to the members of role; give role."),
    ("copy with absent", dict(copy_from="tom.baker@northwindacct.com", members=["sarah.jones@northwindacct.com"], state="absent"),
     "copy_from only adds roles; it cannot be used with state: absent."),
    ("no members", dict(role="Tax Team"), "members is empty; list the users by login name or e-mail address."),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    tasks = []
    for name, opts, _ in BAD_INPUTS:
        t = member_task(title=name, **opts)
        t["ignore_errors"] = True
        tasks.append(t)
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, _, message in BAD_INPUTS:
        t = run.task(name)
        assert t["status"] == "failed", name
        assert t["result"]["msg"] == message, (name, t["result"]["msg"])
    assert sandbox.writes() == []


def test_documented_rights_are_enough(sandbox, run_playbook):
    rights = documented_pp_rights("pp_role_member")
    assert rights == ["Role Management"]
    env = client_with_rights(sandbox, "role-admin@northwindacct.com", rights)
    tasks = [member_task(title="add", role="Tax Team", members=["sarah.jones@northwindacct.com"]),
             member_task(title="copy", copy_from="tom.baker@northwindacct.com", members=["priya.patel@northwindacct.com"]),
             member_task(title="remove", role="Tax Team", members=["sarah.jones@northwindacct.com"], state="absent")]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert run.result("add")["changed"] and run.result("copy")["copy_skipped"] == {"Office 365": "drives outbound provisioning"}
    assert run.result("remove")["removed"] == {"Tax Team": ["sarah.jones@northwindacct.com"]}
    env = client_with_rights(sandbox, "reader@northwindacct.com", ["Read Only System Administration"])
    run = run_playbook(play(member_task(role="Tax Team", members=["sarah.jones@northwindacct.com"])), env=env)
    assert run.rc == 2 and run.result("members")["error_code"] == "Unauthorized"
    assert "/Roles/UpdateRole" in run.result("members")["msg"]
