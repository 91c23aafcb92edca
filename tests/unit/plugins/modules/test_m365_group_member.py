# -*- coding: utf-8 -*-
"""m365_group_member's plan with fake clients: what it reads, the result, the diff, and what apply sends."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError
from ansible_collections.practiceprotect.m365.plugins.modules import m365_group_member

JANE = {"id": "11111111-1111-4111-8111-111111111111", "userPrincipalName": "jane@northwindacct.com", "displayName": "Jane"}
TAX = {"id": "22222222-2222-4222-8222-222222222222", "displayName": "Tax Team", "groupTypes": [], "mailEnabled": False, "securityEnabled": True}
DL = {"id": "33333333-3333-4333-8333-333333333333", "displayName": "Tax Announcements", "groupTypes": [], "mailEnabled": True,
      "securityEnabled": False, "mail": "tax@northwindacct.com"}


class FakeGraph:
    base = "https://graph.example/v1.0"

    def __init__(self, memberships):
        self.memberships = memberships
        self.calls = []

    def list(self, path, params=None):
        self.calls.append(("GET", path))
        if path == "users":
            return [JANE]
        if path.endswith("memberOf/microsoft.graph.group"):
            return list(self.memberships)
        return [g for g in (TAX, DL) if g["displayName"].lower() in params["$filter"].lower()]

    def request(self, method, path, body=None):
        self.calls.append((method, path))


class FakeExchange:
    def __init__(self):
        self.invoked = []

    def invoke(self, cmdlet, parameters=None, select=None):
        self.invoked.append((cmdlet, parameters))
        return []


class FakeAnsible:
    def __init__(self, diff):
        self._diff = diff


class FakeModule:
    def __init__(self, memberships=(), diff=False):
        self.graph = FakeGraph(list(memberships))
        self.exchange = FakeExchange()
        self.module = FakeAnsible(diff)
        self._shared = {}

    def shared(self, name, make):
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]


def params(**options):
    out = dict(user=JANE["userPrincipalName"], groups=None, max_removals=10, copy_from=None, allow_role_assignable=False,
               wait_for_mailbox=False, wait_timeout=900)
    out.update(options)
    return out


def test_plan_reads_then_apply_writes_through_graph_and_exchange():
    m = FakeModule(diff=True)
    result, apply = m365_group_member.plan(m, params(groups={"add": ["Tax Team", "Tax Announcements"]}))
    assert result["changed"] and result["added"] == ["Tax Team", "Tax Announcements"] and apply is not None
    assert [c for c in m.graph.calls if c[0] != "GET"] == [] and m.exchange.invoked == []  # planning writes nothing
    assert result["diff"] == {"before": {"groups": []}, "after": {"groups": ["Tax Announcements (distribution list)", "Tax Team (security group)"]}}
    assert [(p["service"], p.get("cmdlet") or p["path"]) for p in result["plan"]] == [
        ("exchange", "Add-DistributionGroupMember"), ("graph", "/groups/%s/members/$ref" % TAX["id"])]
    apply()
    assert [c for c in m.graph.calls if c[0] != "GET"] == [("POST", "groups/%s/members/$ref" % TAX["id"])]
    wanted = {"Identity": DL["id"], "Member": JANE["userPrincipalName"], "BypassSecurityGroupManagerCheck": True}
    assert m.exchange.invoked == [("Add-DistributionGroupMember", wanted)]


def test_nothing_to_do_has_no_apply_and_no_diff_without_diff_mode():
    result, apply = m365_group_member.plan(FakeModule(memberships=[TAX]), params(groups={"add": ["tax team"]}))
    assert apply is None and not result["changed"] and "diff" not in result and result["plan"] == []


def test_bad_input_fails_before_any_read():
    m = FakeModule()
    with pytest.raises(ValidationError):
        m365_group_member.plan(m, params(groups={}))
    assert m.graph.calls == []
