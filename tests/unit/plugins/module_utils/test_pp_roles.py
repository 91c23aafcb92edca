# -*- coding: utf-8 -*-
"""pp_role_member planning without Ansible or a service."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_roles as r
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

ROLES = [{"ID": "everybody", "Name": "Everybody"}, {"ID": "tax", "Name": "Tax Team"}, {"ID": "o365", "Name": "Office 365"},
         {"ID": "portal", "Name": "Portal Access"}]
USERS = [{"ID": "1", "Username": "ann@x.com", "Email": "ann@x.com"}, {"ID": "2", "Username": "bob@x.com", "Email": "robert@x.com"},
         {"ID": "3", "Username": "cat@x.com", "Email": None}, {"ID": "4", "Username": "dan@x.com", "Email": None}]
BY_ID = dict((u["ID"], u) for u in USERS)


def spec(**params):
    params.setdefault("members", ["ann@x.com"])
    params.setdefault("max_removals", 5)
    return r.build_spec(params)


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
    with pytest.raises(ValidationError, match="exclusive applies to the members of role"):
        spec(copy_from="bob@x.com", exclusive=True)
    with pytest.raises(ValidationError, match="copy_from only adds roles"):
        spec(copy_from="bob@x.com", state="absent")
    assert spec(role="Tax Team", members=[], exclusive=True)["members"] == []


def test_everybody_is_never_a_target():
    with pytest.raises(ValidationError, match="Everybody holds every user implicitly"):
        r.target_roles(spec(role="Everybody"), ROLES)
    targets = r.target_roles(spec(copy_from="bob@x.com"), ROLES, ["Everybody", "Office 365", "Tax Team"])
    assert [t["Name"] for t in targets] == ["Office 365", "Tax Team"]


def test_plan_add_is_additive_and_idempotent():
    s = spec(role="Tax Team", members=["ann@x.com", "bob@x.com"])
    targets = r.target_roles(s, ROLES)
    plan = r.plan_membership(s, targets, {"tax": rows("2", "3")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["added"] == {"Tax Team": ["ann@x.com"]} and plan["removed"] == {}
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Add": ["1"]}}
    assert plan["after"]["Tax Team"] == ["ann@x.com", "bob@x.com", "cat@x.com"]
    again = r.plan_membership(s, targets, {"tax": rows("1", "2", "3")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert again["calls"] == []


def test_plan_exclusive_and_threshold():
    s = spec(role="Tax Team", members=["ann@x.com"], exclusive=True, max_removals=1)
    targets = r.target_roles(s, ROLES)
    with pytest.raises(ValidationError) as caught:
        r.plan_membership(s, targets, {"tax": rows("2", "3", "4")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert caught.value.message.startswith("Refusing to remove 3 members from role Tax Team: more than max_removals (1).")
    assert "bob@x.com, cat@x.com, dan@x.com" in caught.value.message
    s = spec(role="Tax Team", members=["ann@x.com", "cat@x.com", "dan@x.com"], exclusive=True, max_removals=1)
    plan = r.plan_membership(s, targets, {"tax": rows("2", "3", "4")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Add": ["1"], "Delete": ["2"]}}
    assert plan["removed"] == {"Tax Team": ["bob@x.com"]}


def test_plan_absent_and_copy():
    s = spec(role="Tax Team", members=["ann@x.com", "bob@x.com"], state="absent")
    plan = r.plan_membership(s, r.target_roles(s, ROLES), {"tax": rows("2")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["calls"][0]["body"] == {"Name": "tax", "Users": {"Delete": ["2"]}}
    s = spec(copy_from="bob@x.com", members=["ann@x.com"])
    targets = r.target_roles(s, ROLES, ["Everybody", "Office 365", "Portal Access"])
    plan = r.plan_membership(s, targets, {"o365": rows("2"), "portal": rows("1", "2")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["added"] == {"Office 365": ["ann@x.com"]} and len(plan["calls"]) == 1
    assert r.public_calls(plan) == [{"op": "members", "method": "POST", "path": "/Roles/UpdateRole", "role": "Office 365",
                                     "fields": ["Name", "Users.Add"]}]


def test_skip_unknown_members_reports_them():
    skipped = []
    found = r.resolve_users(["ann@x.com", "zed@x.com", "ZED@x.com", "bob@x.com"], USERS, missing_ok=True, skipped=skipped)
    assert [u["ID"] for u in found] == ["1", "2"] and skipped == ["zed@x.com"]
    shared = [{"ID": "5", "Username": "e@x.com", "Email": "same@x.com"}, {"ID": "6", "Username": "f@x.com", "Email": "same@x.com"}]
    with pytest.raises(ValidationError, match="is the e-mail address of more than one user"):
        r.resolve_users(["same@x.com"], USERS + shared, missing_ok=True)
    assert spec(role="Tax Team", skip_unknown_members=True)["skip_unknown_members"] is True


@pytest.mark.parametrize("percent, count, members, limit", [
    (10, None, 4, 1),     # 0.4 rounds down to 0: one leaver can always go
    (0, None, 50, 1),
    (10, None, 50, 5),
    (10, None, 59, 5),    # rounded down
    (50, 3, 10, 3),       # the smaller limit wins: the count
    (20, 3, 10, 2),       # ... or the share
    (100, None, 7, 7),
    (None, None, 7, 5),   # neither given: max_removals 5
    (None, 2, 7, 2),
])
def test_removal_limit(percent, count, members, limit):
    s = r.build_spec({"role": "Tax Team", "members": [], "exclusive": True, "max_removals": count, "max_removals_percent": percent})
    assert r.removal_limit(s, members)[0] == limit


def test_percent_out_of_range_is_refused():
    with pytest.raises(ValidationError) as caught:
        spec(role="Tax Team", max_removals_percent=120)
    assert caught.value.message == "max_removals_percent must be between 0 and 100 (a share of the role's user members); got 120."
    assert caught.value.field == "max_removals_percent"


def test_percent_threshold_refuses_with_the_computation_and_the_people():
    s = r.build_spec({"role": "Tax Team", "members": ["ann@x.com"], "exclusive": True, "max_removals_percent": 10})
    targets = r.target_roles(s, ROLES)
    with pytest.raises(r.RemovalRefused) as caught:
        r.plan_membership(s, targets, {"tax": rows("1", "2", "3", "4")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert caught.value.message == (
        "Refusing to remove 3 members from role Tax Team: more than the limit of 1 (max_removals_percent: 10% of the role's 4 user "
        "members, rounded down, at least 1). Those not listed in members would be removed: bob@x.com, cat@x.com, dan@x.com. Add them to "
        "members, or raise max_removals_percent if this is intended.")
    assert caught.value.field == "max_removals" and caught.value.limit == 1 and caught.value.role == "Tax Team"
    assert caught.value.names == ["bob@x.com", "cat@x.com", "dan@x.com"]
    # One leaver always goes; groups and roles that are members do not count as user members.
    current = {"tax": rows("1", "2") + [{"Guid": "g", "Name": "Some Group", "Type": "Group"}]}
    plan = r.plan_membership(s, targets, current, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["removed"] == {"Tax Team": ["bob@x.com"]} and plan["removal_limit"] == 1


def test_both_limits_name_the_one_that_refused():
    s = r.build_spec({"role": "Tax Team", "members": [], "exclusive": True, "max_removals": 2, "max_removals_percent": 100})
    targets = r.target_roles(s, ROLES)
    with pytest.raises(r.RemovalRefused) as caught:
        r.plan_membership(s, targets, {"tax": rows("1", "2", "3")}, [], BY_ID)
    assert caught.value.message.startswith(
        "Refusing to remove 3 members from role Tax Team: more than max_removals (2; max_removals_percent gives 3: 100% of the role's 3 "
        "user members, rounded down, at least 1).")
    assert caught.value.message.endswith("raise max_removals if this is intended.")
    s = r.build_spec({"role": "Tax Team", "members": [], "exclusive": True, "max_removals": 5, "max_removals_percent": 50})
    with pytest.raises(r.RemovalRefused) as caught:
        r.plan_membership(s, targets, {"tax": rows("1", "2", "3", "4")}, [], BY_ID)
    assert "more than the limit of 2 (max_removals_percent: 50% of the role's 4 user members, rounded down, at least 1; " \
           "max_removals is 5)" in caught.value.message
    assert caught.value.limit == 2


def test_not_exclusive_has_no_removal_limit():
    s = spec(role="Tax Team", members=["ann@x.com"], max_removals_percent=10)
    plan = r.plan_membership(s, r.target_roles(s, ROLES), {"tax": rows("2", "3")}, r.resolve_users(s["members"], USERS), BY_ID)
    assert plan["removal_limit"] is None and plan["removed"] == {}


def test_copy_leaves_out_provisioning_administrative_and_excluded_roles():
    held = [{"Name": "Everybody", "AdministrativeRights": []}, {"Name": "Office 365", "AdministrativeRights": []},
            {"Name": "System Administrator", "AdministrativeRights": ["User Management", "Role Management"]},
            {"Name": "Tax Team", "AdministrativeRights": []}, {"Name": "Portal Access", "AdministrativeRights": []}]
    apps = [{"Name": "Office 365", "ProvConfigured": True, "ProvSettingEnabled": True}, {"Name": "Xero", "ProvConfigured": False}]
    names, skipped = r.copyable_roles(held, r.provisioning_role_names(apps), excluded=["portal access"])
    assert names == ["Tax Team"]
    assert skipped == {"Office 365": "drives outbound provisioning", "System Administrator": "administrative (User Management, Role Management)",
                       "Portal Access": "in copy_exclude"}
