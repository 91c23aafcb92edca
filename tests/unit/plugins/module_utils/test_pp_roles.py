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
