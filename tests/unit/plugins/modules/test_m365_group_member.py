# -*- coding: utf-8 -*-
"""m365_group_member's plan with fake clients: what it reads, the result, the diff, and what apply sends."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _graph
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


# -- many people through main(): each person's groups are read together ------------------------------------------------------

def person(i):
    return {"id": "4444%04d-1111-4111-8111-111111111111" % i, "userPrincipalName": "person%02d@northwindacct.com" % i, "displayName": "P %d" % i}


class People:
    """``count`` people, each in Tax Team (Graph) and Tax Announcements (Exchange), behind the fake transport's routes; ``refuse``:
    UPN -> the answer that refuses the read of that person's groups."""

    def __init__(self, fake, count, refuse=None):
        self.users = [person(i) for i in range(count)]
        self.refuse = refuse or {}
        by_id = dict((u["id"], u) for u in self.users)
        fake.graph("GET", "users", fake.users_by_key(self.users))

        def member_of(request):
            who = by_id[request.path.split("/")[3]]["userPrincipalName"]
            return self.refuse.get(who) or fake.page([dict(TAX), dict(DL)], context="directoryObjects")
        fake.graph("GET", r"users/[^/]+/memberOf/microsoft\.graph\.group", member_of)
        fake.graph("DELETE", r"groups/[^/]+/members/[^/]+/\$ref", (204, None))
        fake.exchange("Remove-DistributionGroupMember", fake.exo([]))
        self.fake = fake

    def items(self):
        return [{"user": u["userPrincipalName"], "groups": {"set": []}, "max_removals": "100%"} for u in self.users]

    def reads(self):
        return [r for r in self.fake.sent("graph") if r.method == "GET" and r.path.endswith("/memberOf/microsoft.graph.group")]


def without_counts(result):
    return dict((key, value) for key, value in result.items() if not key.endswith("_requests") and key not in ("graph_batched_calls", "invocation"))


def test_many_peoples_groups_are_read_in_batch_requests(fake, run_module, m365_args, monkeypatch):
    people = People(fake, 48)
    # A batch goes once every worker has a call queued, or after its window: a wide window, so that a busy machine cannot split them.
    monkeypatch.setattr(_graph._Coalescer.__init__, "__defaults__", (1.0, _graph.BATCH_LIMIT))

    result = run_module(m365_group_member, dict(m365_args, items=people.items()), check_mode=True)

    assert result["failed_items"] == [] and result["changed"] is True
    assert len(people.reads()) == 48 and all(r.batched for r in people.reads())
    envelopes = [r for r in fake.requests if r.is_batch]
    assert len(envelopes) <= 4 and result["graph_batched_calls"] == 48  # 48 reads by 16 workers at once: 3 requests, not 48
    assert result["outcomes"]["person00@northwindacct.com"]["removed"] == ["Tax Team", "Tax Announcements"]


def test_many_peoples_groups_planned_from_reads_made_together_are_those_of_reads_made_one_by_one(fake, run_module, m365_args):
    people = People(fake, 20, refuse={"person05@northwindacct.com": fake.graph_error(403, "Authorization_RequestDenied",
                                                                                     "Insufficient privileges.")})
    args = dict(m365_args, items=people.items(), fail_on_item_error=False)
    sequential = run_module(m365_group_member, dict(args, workers=1), check_mode=True, diff=True)
    assert not [r for r in fake.requests if r.is_batch]
    fake.requests[:] = []

    concurrent = run_module(m365_group_member, args, check_mode=True, diff=True)

    assert [r for r in fake.requests if r.is_batch]
    assert without_counts(concurrent) == without_counts(sequential)
    assert concurrent["failed_items"] == ["person05@northwindacct.com"]  # the one person whose read failed, alone
    assert concurrent["outcomes"]["person05@northwindacct.com"]["msg"].startswith(
        "Insufficient privileges. The application lacks a Microsoft Graph permission for GET users/%s/memberOf/microsoft.graph.group"
        % person(5)["id"])
    assert concurrent["outcomes"]["person06@northwindacct.com"]["removed"] == ["Tax Team", "Tax Announcements"]


def test_a_similar_users_groups_are_read_once_for_everyone_copying_them(fake, run_module, m365_args):
    people = People(fake, 6)
    fake.graph("GET", r"users/%s/memberOf/microsoft\.graph\.group" % people.users[0]["id"],
               fake.page([dict(TAX)], context="directoryObjects"))
    fake.graph("GET", r"users/(?!%s)[^/]+/memberOf/microsoft\.graph\.group" % people.users[0]["id"], fake.page([], context="directoryObjects"))
    items = [{"user": u["userPrincipalName"], "copy_from": people.users[0]["userPrincipalName"]} for u in people.users[1:]]

    result = run_module(m365_group_member, dict(m365_args, items=items), check_mode=True)

    assert [o["added"] for o in result["outcomes"].values()] == [["Tax Team"]] * 5
    assert sorted(r.path.split("/")[3] for r in people.reads()) == sorted(u["id"] for u in people.users)  # the template once
