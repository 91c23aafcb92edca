# -*- coding: utf-8 -*-
"""pp_role_member planning without Ansible or a service."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_roles as r
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

ROLES = [{"ID": "everybody", "Name": "Everybody"}, {"ID": "tax", "Name": "Tax Team"}, {"ID": "o365", "Name": "Office 365"},
         {"ID": "portal", "Name": "Portal Access"}]
USERS = [{"ID": "1", "Username": "ann@x.com", "Email": "ann@x.com"}, {"ID": "2", "Username": "bob@x.com", "Email": "robert@x.com"},
         {"ID": "3", "Username": "cat@x.com", "Email": None}, {"ID": "4", "Username": "dan@x.com", "Email": None}]
BY_ID = dict((u["ID"], u) for u in USERS)


def spec(**params):
    params.setdefault("members", {"add": ["ann@x.com"]})
    params.setdefault("max_removals", 5)
    return r.build_spec(params)


def resolved(s, users=None):
    users = USERS if users is None else users
    change = s["members"]
    return {"add": r.resolve_users(change.add, users), "remove": r.resolve_users(change.remove, users, missing_ok=True),
            "set": r.resolve_users(change.set, users) if change.set is not None else None}


def rows(*ids):
    return [{"Guid": i, "Name": BY_ID[i]["Username"], "Type": "User"} for i in ids]


def test_resolve_role_and_users():
    assert r.resolve_role("tax team", ROLES)["ID"] == "tax"
    with pytest.raises(ValidationError) as caught:
        r.resolve_role("Tax Teams", ROLES)
    assert caught.value.message == "Unknown role 'Tax Teams'. Close matches: Tax Team."
    assert [u["ID"] for u in r.resolve_users(["ROBERT@x.com", "ann@x.com", "ann@x.com"], USERS)] == ["2", "1"]
    with pytest.raises(ValidationError) as caught:
        r.resolve_users(["bobb@x.com"], USERS)
    assert caught.value.message == ("Unknown user: no Practice Protect user has the login name or e-mail bobb@x.com (close matches: bob@x.com). "
                                    "Invite or create the user first (pp_user).")


def test_spec_rules():
    with pytest.raises(ValidationError, match="Give role"):
        spec()
    with pytest.raises(ValidationError, match="copy_from only adds roles"):
        spec(copy_from="bob@x.com", members={"set": ["ann@x.com"]})
    with pytest.raises(ValidationError, match="copy_from only adds roles"):
        spec(copy_from="bob@x.com", members={"remove": ["ann@x.com"]})
    with pytest.raises(ValidationError, match="all_roles only removes: give members.remove."):
        spec(all_roles=True, members={"add": ["ann@x.com"]})
    with pytest.raises(ValidationError, match="all_roles takes the members out of every role they hold; use it without role"):
        spec(all_roles=True, role="Tax Team", members={"remove": ["ann@x.com"]})
    with pytest.raises(ValidationError, match="members is empty"):
        spec(role="Tax Team", members={})
    with pytest.raises(ValidationError, match="members takes add, remove or set"):
        spec(role="Tax Team", members=["ann@x.com"])
    with pytest.raises(ValidationError, match="members.add has an empty entry"):
        spec(role="Tax Team", members={"add": [" "]})
    with pytest.raises(ValidationError, match="max_removals 120% is more than 100%"):
        spec(role="Tax Team", max_removals="120%")
    assert spec(role="Tax Team", members={"set": []})["members"].set == []


def test_everybody_is_never_a_target():
    with pytest.raises(ValidationError, match="Everybody holds every user implicitly"):
        r.target_roles(spec(role="Everybody"), ROLES)
    targets = r.target_roles(spec(copy_from="bob@x.com"), ROLES, ["Everybody", "Office 365", "Tax Team"])
    assert [t["Name"] for t in targets] == ["Office 365", "Tax Team"]


def test_add_is_additive_and_idempotent():
    s = spec(role="Tax Team", members={"add": ["ann@x.com", "bob@x.com"]})
    targets = r.target_roles(s, ROLES)
    plan = r.plan_membership(s, targets, {"tax": rows("2", "3")}, resolved(s), BY_ID)
    assert plan["added"] == {"Tax Team": ["ann@x.com"]} and plan["removed"] == {}
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Add": ["1"]}}
    assert plan["after"]["Tax Team"] == ["ann@x.com", "bob@x.com", "cat@x.com"]
    again = r.plan_membership(s, targets, {"tax": rows("1", "2", "3")}, resolved(s), BY_ID)
    assert again["calls"] == []


def test_set_within_and_beyond_the_removal_limit():
    s = spec(role="Tax Team", members={"set": ["ann@x.com"]}, max_removals=1)
    targets = r.target_roles(s, ROLES)
    with pytest.raises(_model.RemovalRefused) as caught:
        r.plan_membership(s, targets, {"tax": rows("2", "3", "4")}, resolved(s), BY_ID)
    assert caught.value.message == (
        "Refusing to remove 3 users from role Tax Team, more than max_removals (1): bob@x.com, cat@x.com, dan@x.com. List them to keep "
        "them, or raise max_removals if this is intended.")
    assert caught.value.field == "max_removals" and caught.value.limit == 1 and caught.value.names == ["bob@x.com", "cat@x.com", "dan@x.com"]
    assert caught.value.details == {"removal_limit": 1, "refused_removals": ["bob@x.com", "cat@x.com", "dan@x.com"]}
    s = spec(role="Tax Team", members={"set": ["ann@x.com", "cat@x.com", "dan@x.com"]}, max_removals=1)
    plan = r.plan_membership(s, targets, {"tax": rows("2", "3", "4")}, resolved(s), BY_ID)
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Add": ["1"], "Delete": ["2"]}}
    assert plan["removed"] == {"Tax Team": ["bob@x.com"]} and plan["removal_limit"] == 1


def test_remove_and_copy():
    s = spec(role="Tax Team", members={"remove": ["ann@x.com", "bob@x.com", "nobody@x.com"]})
    plan = r.plan_membership(s, r.target_roles(s, ROLES), {"tax": rows("2")}, resolved(s), BY_ID)
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Delete": ["2"]}}
    s = spec(copy_from="bob@x.com", members={"add": ["ann@x.com"]})
    targets = r.target_roles(s, ROLES, ["Everybody", "Office 365", "Portal Access"])
    plan = r.plan_membership(s, targets, {"o365": rows("2"), "portal": rows("1", "2")}, resolved(s), BY_ID)
    assert plan["added"] == {"Office 365": ["ann@x.com"]} and len(plan["calls"]) == 1
    assert r.public_calls(plan) == [{"op": "members", "method": "POST", "path": "/Roles/UpdateRole", "role": "Office 365",
                                     "fields": ["Name", "Users.Add"]}]


def test_a_leaver_out_of_many_roles_counts_once():
    s = spec(all_roles=True, members={"remove": ["bob@x.com"]}, max_removals=1)
    targets = r.target_roles(s, ROLES, ["Tax Team", "Office 365", "Portal Access"])
    plan = r.plan_membership(s, targets, {"tax": rows("2", "3"), "o365": rows("2"), "portal": rows("1", "2")}, resolved(s), BY_ID)
    assert sorted(plan["removed"]) == ["Office 365", "Portal Access", "Tax Team"] and plan["removal_limit"] == 1


def test_skip_unknown_members_reports_them():
    skipped = []
    found = r.resolve_users(["ann@x.com", "zed@x.com", "ZED@x.com", "bob@x.com"], USERS, missing_ok=True, skipped=skipped)
    assert [u["ID"] for u in found] == ["1", "2"] and skipped == ["zed@x.com"]
    shared = [{"ID": "5", "Username": "e@x.com", "Email": "same@x.com"}, {"ID": "6", "Username": "f@x.com", "Email": "same@x.com"}]
    with pytest.raises(ValidationError, match="is the e-mail address of more than one user"):
        r.resolve_users(["same@x.com"], USERS + shared, missing_ok=True)
    assert spec(role="Tax Team", skip_unknown_members=True)["skip_unknown_members"] is True


@pytest.mark.parametrize("limit, members, allowed", [
    ("10%", 4, 1),     # 0.4 rounds down to 0: one leaver can always go
    ("0%", 50, 1),
    ("10%", 50, 5),
    ("10%", 59, 5),    # rounded down
    ("100%", 7, 7),
    (None, 7, 5),      # not given: 5
    (2, 7, 2),
    ("3", 7, 3),
])
def test_removal_limit(limit, members, allowed):
    s = spec(role="Tax Team", members={"set": []}, max_removals=limit)
    ids = [str(10 + n) for n in range(members)]
    users = [{"ID": i, "Username": "u%s@x.com" % i, "Email": None} for i in ids]
    current = {"tax": [{"Guid": i, "Name": "u%s@x.com" % i, "Type": "User"} for i in ids]}
    targets = r.target_roles(s, ROLES)
    if allowed >= members:
        assert r.plan_membership(s, targets, current, resolved(s, users), dict((u["ID"], u) for u in users))["removal_limit"] == allowed
    else:
        with pytest.raises(_model.RemovalRefused) as caught:
            r.plan_membership(s, targets, current, resolved(s, users), dict((u["ID"], u) for u in users))
        assert caught.value.limit == allowed


def test_a_share_counts_user_members_only_and_names_the_computation():
    s = spec(role="Tax Team", members={"set": ["ann@x.com"]}, max_removals="10%")
    targets = r.target_roles(s, ROLES)
    with pytest.raises(_model.RemovalRefused) as caught:
        r.plan_membership(s, targets, {"tax": rows("1", "2", "3", "4")}, resolved(s), BY_ID)
    assert "more than max_removals (10% of the 4 held now, rounded down, at least 1: 1)" in caught.value.message
    # One leaver always goes; groups and roles that are members do not count as user members.
    current = {"tax": rows("1", "2") + [{"Guid": "g", "Name": "Some Group", "Type": "Group"}]}
    plan = r.plan_membership(s, targets, current, resolved(s), BY_ID)
    assert plan["removed"] == {"Tax Team": ["bob@x.com"]} and plan["removal_limit"] == 1
    assert plan["after"] == {"Tax Team": ["ann@x.com"]}  # the user members; the group stays, untouched


def test_copy_leaves_out_provisioning_administrative_and_excluded_roles():
    held = [{"Name": "Everybody", "AdministrativeRights": []}, {"Name": "Office 365", "AdministrativeRights": []},
            {"Name": "System Administrator", "AdministrativeRights": ["User Management", "Role Management"]},
            {"Name": "Tax Team", "AdministrativeRights": []}, {"Name": "Portal Access", "AdministrativeRights": []}]
    apps = [{"Name": "Office 365", "ProvConfigured": True, "ProvSettingEnabled": True}, {"Name": "Xero", "ProvConfigured": False}]
    names, skipped = r.copyable_roles(held, r.provisioning_role_names(apps), excluded=["portal access"])
    assert names == ["Tax Team"]
    assert skipped == {"Office 365": "drives outbound provisioning", "System Administrator": "administrative (User Management, Role Management)",
                       "Portal Access": "in copy_exclude"}
