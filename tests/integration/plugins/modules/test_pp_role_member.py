# -*- coding: utf-8 -*-
"""pp_role_member through real ansible-playbook runs against the sandbox's Practice Protect tenant."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from tests.integration.plugins.modules.pp_support import (client_with_rights, documented_pp_rights, mark, pp_state, pp_user,
                                                          pp_writes, role_members, task)
from tests.integration.support import play

JANE = "jane.citizen@northwindacct.com"
OFFICE365_ROLE = "b1a6c3d2_4e5f_4a7b_8c9d_0e1f2a3b4c5d"


def member_task(title="members", register="r", **options):
    return task("pp_role_member", title, register, **options)


def create_jane():
    return task("pp_user", "jane", user=JANE, display_name="Jane Citizen", mail=JANE)


def test_add_rerun_and_remove(sandbox, run_playbook):
    run = run_playbook(play(create_jane(), member_task(role="Audit Team", members={"add": [JANE, "tom.baker@northwindacct.com"]})), expect_rc=0)
    r = run.result("members")
    assert r["changed"] and r["added"] == {"Audit Team": [JANE, "tom.baker@northwindacct.com"]} and r["removed"] == {}
    assert [c["path"] for c in r["plan"]] == ["/Roles/UpdateRole"]
    assert role_members(sandbox, "Audit Team") == [JANE, "sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]

    since = mark(sandbox)
    again = run_playbook(play(member_task(role="Audit Team", members={"add": [JANE.upper(), "tom.baker@northwindacct.com"]})), expect_rc=0)
    assert not again.result("members")["changed"] and again.changed() == 0
    assert sandbox.writes(since=since) == []

    # Someone Practice Protect does not have holds no role: under remove they are skipped, not refused.
    gone = run_playbook(play(member_task(role="audit team", members={"remove": ["tom.baker@northwindacct.com", "nobody@northwindacct.com"]})),
                        expect_rc=0)
    r = gone.result("members")
    assert r["removed"] == {"Audit Team": ["tom.baker@northwindacct.com"]} and r["added"] == {}
    assert r["skipped_members"] == ["nobody@northwindacct.com"]
    assert role_members(sandbox, "Audit Team") == [JANE, "sarah.jones@northwindacct.com"]


def test_members_by_email(sandbox, run_playbook):
    sandbox.control("POST", "pp/seed", json={"users": [{"Name": "kim@northwindacct.com", "Mail": "kim.ng@northwindacct.com"}]})
    run = run_playbook(play(member_task(role="Tax Team", members={"add": ["kim.ng@northwindacct.com"]})), expect_rc=0)
    assert run.result("members")["added"] == {"Tax Team": ["kim@northwindacct.com"]}


@pytest.mark.parametrize("profile", ["default", "real_tenant_variants"])
def test_copy_from_a_similar_user_never_touches_everybody_nor_the_provisioning_and_admin_roles(sandbox, run_playbook, profile):
    """GetUsersRolesAndAdministrativeRights rows carry RoleName (default) or Name (real-tenant variants): the same roles either way."""
    sandbox.configure(pp_profile=profile)
    tasks = [create_jane(), member_task(copy_from="tom.baker@northwindacct.com", members={"add": [JANE]})]
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
    admin = run_playbook(play(member_task(copy_from="ansible.automation@northwindacct.com", members={"add": ["sarah.jones@northwindacct.com"]},
                                          copy_exclude=["Tax Team"])), expect_rc=0).result("members")
    assert admin["copy_skipped"]["System Administrator"].startswith("administrative (")
    assert "System Administrator" not in pp_user(sandbox, "sarah.jones@northwindacct.com")["Roles"]
    since = mark(sandbox)
    again = run_playbook(play(*tasks), expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=since) == []


def test_set_and_its_threshold(sandbox, run_playbook):
    before = role_members(sandbox, "Portal Access")
    assert before == ["priya.patel@northwindacct.com", "reception@northwindacct.com", "sarah.jones@northwindacct.com",
                      "tom.baker@northwindacct.com"]
    refused = run_playbook(play(member_task(role="Portal Access", members={"set": ["sarah.jones@northwindacct.com"]}, max_removals=2)))
    assert refused.rc == 2
    r = refused.result("members")
    assert r["msg"] == (
        "Refusing to remove 3 users from role Portal Access, more than max_removals (2): priya.patel@northwindacct.com, "
        "reception@northwindacct.com, tom.baker@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 2
    assert r["refused_removals"] == ["priya.patel@northwindacct.com", "reception@northwindacct.com", "tom.baker@northwindacct.com"]
    assert sandbox.writes() == [] and role_members(sandbox, "Portal Access") == before

    run = run_playbook(play(member_task(role="Portal Access", members={"set": ["sarah.jones@northwindacct.com", "priya.patel@northwindacct.com"]},
                                        max_removals=2)), expect_rc=0)
    r = run.result("members")
    assert r["removed"] == {"Portal Access": ["reception@northwindacct.com", "tom.baker@northwindacct.com"]} and r["added"] == {}
    assert r["removal_limit"] == 2
    assert role_members(sandbox, "Portal Access") == ["priya.patel@northwindacct.com", "sarah.jones@northwindacct.com"]
    writes = pp_writes(sandbox)
    assert [(w["path"], w["body_keys"]) for w in writes] == [("/Roles/UpdateRole", ["Name", "Users"])]


def test_remove_counts_against_the_limit_too(sandbox, run_playbook):
    leavers = ["priya.patel@northwindacct.com", "reception@northwindacct.com", "tom.baker@northwindacct.com"]
    many = run_playbook(play(member_task(role="Portal Access", members={"remove": leavers}, max_removals=2)))
    assert many.rc == 2
    r = many.result("members")
    assert r["msg"] == (
        "Refusing to remove 3 users from role Portal Access, more than max_removals (2): priya.patel@northwindacct.com, "
        "reception@northwindacct.com, tom.baker@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 2 and r["refused_removals"] == leavers
    assert sandbox.writes() == [] and len(role_members(sandbox, "Portal Access")) == 4
    # Within the default limit (5), they go.
    run = run_playbook(play(member_task(role="Portal Access", members={"remove": leavers})), expect_rc=0)
    r = run.result("members")
    assert r["removed"] == {"Portal Access": leavers} and r["removal_limit"] == 5
    assert role_members(sandbox, "Portal Access") == ["sarah.jones@northwindacct.com"]


def test_percentage_threshold_and_unknown_members_skipped(sandbox, run_playbook):
    refused = member_task(title="refused", role="Portal Access", members={"set": ["sarah.jones@northwindacct.com"]}, max_removals="50%")
    refused["ignore_errors"] = True
    tasks = [refused,
             member_task(title="skip", role="Tax Team", members={"set": ["tom.baker@northwindacct.com", "nobody@northwindacct.com",
                                                                         "priya.patel@northwindacct.com", "sarah.jones@northwindacct.com"]},
                         skip_unknown_members=True, max_removals="10%"),
             member_task(title="one leaver", role="Tax Team", members={"set": ["tom.baker@northwindacct.com", "sarah.jones@northwindacct.com"]},
                         max_removals="10%"),
             member_task(title="half", role="Portal Access", members={"set": ["sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]},
                         max_removals="50%")]
    run = run_playbook(play(*tasks), expect_rc=0)
    r = run.task("refused")
    assert r["status"] == "failed"
    assert r["result"]["msg"] == (
        "Refusing to remove 3 users from role Portal Access, more than max_removals (50% of the 4 held now, rounded down, at least 1: 2): "
        "priya.patel@northwindacct.com, reception@northwindacct.com, tom.baker@northwindacct.com. List them to keep them, or raise "
        "max_removals if this is intended.")
    assert r["result"]["field"] == "max_removals" and r["result"]["removal_limit"] == 2
    assert r["result"]["refused_removals"] == ["priya.patel@northwindacct.com", "reception@northwindacct.com", "tom.baker@northwindacct.com"]

    r = run.result("skip")
    assert r["added"] == {"Tax Team": ["sarah.jones@northwindacct.com"]} and r["removed"] == {}
    assert r["skipped_members"] == ["nobody@northwindacct.com"] and r["removal_limit"] == 1
    r = run.result("one leaver")  # 10% of 3 rounds down to 0, but one leaver can always go
    assert r["removed"] == {"Tax Team": ["priya.patel@northwindacct.com"]} and r["removal_limit"] == 1
    assert role_members(sandbox, "Tax Team") == ["sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]
    r = run.result("half")  # 50% of 4 is 2: exactly the two removals
    assert r["removed"] == {"Portal Access": ["priya.patel@northwindacct.com", "reception@northwindacct.com"]} and r["removal_limit"] == 2
    assert role_members(sandbox, "Portal Access") == ["sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]
    assert [w["path"] for w in pp_writes(sandbox)] == ["/Roles/UpdateRole"] * 3


def test_all_roles_takes_leavers_out_of_every_role_and_counts_each_person_once(sandbox, run_playbook):
    tom, priya = "tom.baker@northwindacct.com", "priya.patel@northwindacct.com"
    # Tom is in Portal Access, Office 365 and Tax Team, Priya in Portal Access and Tax Team: five memberships, two people.
    refused = dict(member_task(title="refused", register="refused", all_roles=True, members={"remove": [tom, priya]}, max_removals=1),
                   ignore_errors=True)
    run = run_playbook(play(refused, member_task(title="two people", all_roles=True, members={"remove": [tom, priya, "nobody@northwindacct.com"]},
                                                 max_removals=2)), expect_rc=0)
    r = run.task("refused")
    assert r["status"] == "failed"
    assert r["result"]["msg"] == (
        "Refusing to remove 2 users from 3 roles, more than max_removals (1): priya.patel@northwindacct.com, tom.baker@northwindacct.com. "
        "List them to keep them, or raise max_removals if this is intended.")
    assert r["result"]["refused_removals"] == [priya, tom] and r["result"]["removal_limit"] == 1
    r = run.result("two people")
    assert r["removed"] == {"Office 365": [tom], "Portal Access": [priya, tom], "Tax Team": [priya, tom]}
    assert r["skipped_members"] == ["nobody@northwindacct.com"] and r["removal_limit"] == 2
    assert role_members(sandbox, "Tax Team") == [] and role_members(sandbox, "Office 365") == ["sarah.jones@northwindacct.com"]
    assert role_members(sandbox, "Portal Access") == ["reception@northwindacct.com", "sarah.jones@northwindacct.com"]
    assert len(pp_writes(sandbox)) == 3  # one UpdateRole per role, none for the refused task


def test_check_mode_and_diff_write_nothing(sandbox, run_playbook):
    run = run_playbook(play(member_task(role="Tax Team", members={"add": ["sarah.jones@northwindacct.com"]})), check=True, diff=True, expect_rc=0)
    r = run.result("members")
    assert r["changed"] and r["added"] == {"Tax Team": ["sarah.jones@northwindacct.com"]}
    assert r["diff"]["before"]["Tax Team"] == ["priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]
    assert r["diff"]["after"]["Tax Team"] == ["priya.patel@northwindacct.com", "sarah.jones@northwindacct.com", "tom.baker@northwindacct.com"]
    assert sandbox.writes() == []
    assert role_members(sandbox, "Tax Team") == ["priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]


def test_a_change_to_the_office365_role_queues_a_sync(sandbox, run_playbook):
    run_playbook(play(create_jane(), member_task(role="Office 365", members={"add": [JANE]})), expect_rc=0)
    jobs = pp_state(sandbox)["jobs"]
    assert len(jobs) == 1
    assert jobs[0]["Trigger"] == "RoleMembershipChange" and jobs[0]["State"] == "Queued"
    assert jobs[0]["Users"] == [pp_user(sandbox, JANE)["ID"]]
    run_playbook(play(member_task(role="Tax Team", members={"add": [JANE]})), expect_rc=0)
    assert len(pp_state(sandbox)["jobs"]) == 1  # Tax Team feeds no provisioning


SARAH = "sarah.jones@northwindacct.com"
BAD_INPUTS = [
    ("unknown role", dict(role="Tax team members", members={"add": [JANE]}), "Unknown role 'Tax team members'. Close matches: Tax Team."),
    ("unknown role, no match", dict(role="Payroll", members={"add": [JANE]}),
     "Unknown role 'Payroll'. Roles: Audit Team, Everybody, Office 365, Portal Access, System Administrator, Tax Team."),
    ("unknown users", dict(role="Tax Team", members={"add": ["sarah.jone@northwindacct.com", "zed@example.org"]}),
     "Unknown users: no Practice Protect user has the login name or e-mail sarah.jone@northwindacct.com (close matches: "
     "sarah.jones@northwindacct.com); zed@example.org (no close match). Invite or create the user first (pp_user)."),
    ("unknown user in set", dict(role="Tax Team", members={"set": ["tom.baker@northwindacct.com", "zed@example.org"]}),
     "Unknown user: no Practice Protect user has the login name or e-mail zed@example.org (no close match). Invite or create the user "
     "first (pp_user)."),
    ("unknown template", dict(copy_from="tom.bakr@northwindacct.com", members={"add": [SARAH]}),
     "Unknown user: no Practice Protect user has the login name or e-mail tom.bakr@northwindacct.com (close matches: "
     "tom.baker@northwindacct.com). Invite or create the user first (pp_user)."),
    ("everybody", dict(role="Everybody", members={"add": [SARAH]}),
     "Everybody holds every user implicitly and cannot be changed; choose another role."),
    ("neither", dict(members={"add": [SARAH]}), "Give role (a role name) or copy_from (a user whose roles to copy)."),
    ("set with copy_from", dict(copy_from="tom.baker@northwindacct.com", members={"set": [SARAH]}),
     "copy_from only adds roles: give members.add (and role, to change that role's members)."),
    ("remove with copy_from", dict(copy_from="tom.baker@northwindacct.com", members={"remove": [SARAH]}),
     "copy_from only adds roles: give members.add (and role, to change that role's members)."),
    ("all_roles adding", dict(all_roles=True, members={"add": [SARAH]}), "all_roles only removes: give members.remove."),
    ("all_roles with a role", dict(all_roles=True, role="Tax Team", members={"remove": [SARAH]}),
     "all_roles takes the members out of every role they hold; use it without role and copy_from."),
    ("add and remove the same", dict(role="Tax Team", members={"add": [SARAH], "remove": [SARAH.upper()]}),
     "members lists sarah.jones@northwindacct.com under both add and remove; give each value once."),
    ("empty entry", dict(role="Tax Team", members={"add": [SARAH, " "]}),
     "members.add has an empty entry; give login names or e-mail addresses."),
    ("no members", dict(role="Tax Team", members={}), "members is empty; give add, remove or set with login names or e-mail addresses."),
    ("members left out", dict(role="Tax Team"), "missing required arguments: members"),
    ("unknown action", dict(role="Tax Team", members={"exclusive": [SARAH]}),
     "Unsupported parameters for (practiceprotect.m365.pp_role_member) module: members.exclusive. Supported parameters include: add, "
     "remove, set."),
    ("removal limit not a number", dict(role="Tax Team", members={"set": [SARAH]}, max_removals="a few"),
     "max_removals must be a number or a percentage such as 10%, not 'a few'."),
    ("removal limit over 100%", dict(role="Tax Team", members={"set": [SARAH]}, max_removals="200%"), "max_removals 200% is more than 100%."),
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
    tasks = [member_task(title="add", role="Tax Team", members={"add": ["sarah.jones@northwindacct.com"]}),
             member_task(title="copy", copy_from="tom.baker@northwindacct.com", members={"add": ["priya.patel@northwindacct.com"]}),
             member_task(title="remove", role="Tax Team", members={"remove": ["sarah.jones@northwindacct.com"]})]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert run.result("add")["changed"] and run.result("copy")["copy_skipped"] == {"Office 365": "drives outbound provisioning"}
    assert run.result("remove")["removed"] == {"Tax Team": ["sarah.jones@northwindacct.com"]}
    env = client_with_rights(sandbox, "reader@northwindacct.com", ["Read Only System Administration"])
    run = run_playbook(play(member_task(role="Tax Team", members={"add": ["sarah.jones@northwindacct.com"]})), env=env)
    assert run.rc == 2 and run.result("members")["error_code"] == "Unauthorized"
    assert "/Roles/UpdateRole" in run.result("members")["msg"]
