# -*- coding: utf-8 -*-
"""m365_user_info's filters (_user_query) against a fake Graph and a fake Exchange client."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _user_query as q
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
BP = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
FLOW = "f30db892-07e9-47e9-837c-80727f46fd3d"
SKUS = [{"skuId": E3, "skuPartNumber": "ENTERPRISEPACK"}, {"skuId": BP, "skuPartNumber": "O365_BUSINESS_PREMIUM"},
        {"skuId": FLOW, "skuPartNumber": "FLOW_FREE"}]
ALL_STAFF = "6c2e8a4f-1d3b-4c5e-9f7a-8b0d2e4f6a15"
TAX_TEAM = "3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04"
FRONT = "11111111-2222-4333-8444-555566667777"
GROUPS = [{"id": ALL_STAFF, "displayName": "All Staff"}, {"id": TAX_TEAM, "displayName": "Tax Team"}, {"id": FRONT, "displayName": "Front Office"}]


def user(uid, upn, enabled=True, licences=(), company=None, kind="Member"):
    return {"id": uid, "userPrincipalName": upn, "displayName": upn.split("@")[0], "accountEnabled": enabled, "userType": kind,
            "companyName": company, "mail": upn, "department": "Tax", "assignedLicenses": [{"skuId": s, "disabledPlans": []} for s in licences]}


SARAH = user("u1", "sarah.jones@northwindacct.com", licences=[E3])
TOM = user("u2", "tom.baker@northwindacct.com", licences=[E3], company="Northwind Accounting")
IT = user("u3", "it.admin@northwindacct.onmicrosoft.com", licences=[BP], company="Northwind Accounting")
ROOM = user("u4", "boardroom@northwindacct.com", enabled=False)
SHARED = user("u5", "reception@northwindacct.com", enabled=False)
KIT = user("u6", "projector@northwindacct.com", enabled=False)
AMY = user("u7", "amy.lee@northwind-legacy.com", licences=[FLOW], company="northwind accounting ")
GUEST = user("u8", "ext_contoso.com#EXT#@northwindacct.onmicrosoft.com", kind="Guest")
NOBODY = user("u9", "no.licence@northwindacct.com")
EVERYONE = [SARAH, TOM, IT, ROOM, SHARED, KIT, AMY, GUEST, NOBODY]
# transitiveMembers: All Staff holds sarah, the room, it.admin and Tax Team (tom).
MEMBERS = {ALL_STAFF: [SARAH, ROOM, IT, TOM], TAX_TEAM: [TOM], FRONT: [SHARED, KIT, NOBODY, TOM]}
MAILBOXES = [{"ExternalDirectoryObjectId": "u1", "UserPrincipalName": SARAH["userPrincipalName"], "RecipientTypeDetails": "UserMailbox"},
             {"ExternalDirectoryObjectId": "U2", "UserPrincipalName": TOM["userPrincipalName"], "RecipientTypeDetails": "UserMailbox"},
             {"ExternalDirectoryObjectId": "u3", "RecipientTypeDetails": "UserMailbox"},
             {"ExternalDirectoryObjectId": "u4", "RecipientTypeDetails": "RoomMailbox"},
             {"ExternalDirectoryObjectId": "u5", "RecipientTypeDetails": "SharedMailbox"},
             {"ExternalDirectoryObjectId": "u6", "RecipientTypeDetails": "EquipmentMailbox"}]


class FakeGraph:
    """Answers list reads from the tables above; records every call. Graph's own $filter is not emulated for /users (the
    module checks every option again), so a test of a server-side filter looks at the parameters sent."""

    def __init__(self):
        self.calls = []

    def list(self, path, params=None, headers=None, limit=None):
        self.calls.append((path, dict(params or {}), dict(headers or {})))
        if path == "groups":
            field, values = re.match(r"(\w+) in \((.*)\)$", params["$filter"]).groups()
            wanted = [v.replace("''", "'").lower() for v in re.findall(r"'((?:[^']|'')*)'", values)]
            return [dict(g) for g in GROUPS if g[field].lower() in wanted]
        if path == "subscribedSkus":
            return copy.deepcopy(SKUS)
        if path == "users":
            return copy.deepcopy(EVERYONE)[:limit] if limit else copy.deepcopy(EVERYONE)
        match = re.match(r"groups/([^/]+)/transitiveMembers/microsoft.graph.user$", path)
        if match:
            return [dict(copy.deepcopy(u), **{"@odata.type": "#microsoft.graph.user"}) for u in MEMBERS[match.group(1)]]
        raise AssertionError("unexpected list %s" % path)

    def get_or_none(self, path, params=None):
        self.calls.append((path, dict(params or {}), {}))
        key = path.split("/", 1)[1].lower()
        found = [u for u in EVERYONE if key in (u["id"].lower(), u["userPrincipalName"].lower())]
        return dict(copy.deepcopy(found[0]), **{"@odata.context": "ctx"}) if found else None

    def paths(self):
        return [call[0] for call in self.calls]


class FakeExchange:
    def __init__(self):
        self.invocations = []
        self.identities = []

    def invoke(self, cmdlet, parameters=None, select=None):
        self.invocations.append((cmdlet, parameters, select))
        return copy.deepcopy(MAILBOXES)

    def get_mailbox(self, identity):
        self.identities.append(identity)
        found = [m for m in MAILBOXES if m["ExternalDirectoryObjectId"].lower() == identity.lower()]
        return copy.deepcopy(found[0]) if found else None


def params(**options):
    base = dict(user=None, filter=None, select=None, advanced_query=None, max_items=None, member_of=None, account_enabled=None,
                licensed=None, assigned_licenses=None, company_name=None, user_type=None, domain=None, exclude_onmicrosoft=True,
                include_mailbox_type=False)
    base.update(options)
    return base


def run(**options):
    graph, exchange = FakeGraph(), FakeExchange()
    result = q.run_query(graph, lambda: exchange, q.build_spec(params(**options)))
    return result, graph, exchange


def upns(result):
    return [u["userPrincipalName"] for u in result["users"]]


def skipped(result):
    assert all(s["reason"] == "onmicrosoft" for s in result["skipped_users"])
    return [s["userPrincipalName"] for s in result["skipped_users"]]


# -- each filter alone ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options, kept, left_out", [
    ({}, [SARAH, TOM, ROOM, SHARED, KIT, AMY, NOBODY], [IT, GUEST]),
    ({"member_of": ["All Staff"]}, [SARAH, ROOM, TOM], [IT]),
    ({"member_of": [TAX_TEAM.upper()]}, [TOM], []),
    ({"account_enabled": True}, [SARAH, TOM, AMY, NOBODY], [IT, GUEST]),
    ({"account_enabled": False}, [ROOM, SHARED, KIT], []),
    ({"licensed": True}, [SARAH, TOM, AMY], [IT]),
    ({"licensed": False}, [ROOM, SHARED, KIT, NOBODY], [GUEST]),
    ({"assigned_licenses": ["enterprisepack"]}, [SARAH, TOM], []),
    ({"assigned_licenses": [BP.upper(), "FLOW_FREE"]}, [AMY], [IT]),
    ({"company_name": "NORTHWIND ACCOUNTING"}, [TOM, AMY], [IT]),
    ({"user_type": "Guest"}, [], [GUEST]),
    ({"user_type": "Guest", "exclude_onmicrosoft": False}, [GUEST], []),
    ({"domain": ["northwind-legacy.com", "@NorthwindAcct.com"]}, [SARAH, TOM, ROOM, SHARED, KIT, AMY, NOBODY], []),
    ({"domain": ["northwind-legacy.com"]}, [AMY], []),
    ({"domain": ["northwindacct.onmicrosoft.com"], "exclude_onmicrosoft": False}, [IT, GUEST], []),
])
def test_each_filter_alone(options, kept, left_out):
    result, graph, exchange = run(**options)
    assert upns(result) == [u["userPrincipalName"] for u in kept] and result["count"] == len(kept)
    assert skipped(result) == [u["userPrincipalName"] for u in left_out]
    assert exchange.invocations == [] and exchange.identities == []


def test_combined_filters_need_every_one_to_match():
    result, graph, _ = run(member_of=["All Staff", "Front Office"], account_enabled=True, licensed=True, user_type="Member",
                           domain=["northwindacct.com"], company_name="Northwind Accounting")
    assert upns(result) == [TOM["userPrincipalName"]] and result["skipped_users"] == []
    # Tom is in both groups: listed once. Both names in one group query, SKUs, then one member list per group.
    assert graph.paths() == ["groups", "subscribedSkus", "groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF,
                             "groups/%s/transitiveMembers/microsoft.graph.user" % FRONT]


def test_exclude_onmicrosoft_off_keeps_them_and_lists_nothing_as_skipped():
    on, _, _ = run(member_of=["All Staff"])
    off, _, _ = run(member_of=["All Staff"], exclude_onmicrosoft=False)
    assert IT["userPrincipalName"] not in upns(on) and skipped(on) == [IT["userPrincipalName"]]
    assert upns(off) == [u["userPrincipalName"] for u in (SARAH, ROOM, IT, TOM)] and off["skipped_users"] == []


def test_member_lists_use_advanced_mode_and_the_callers_filter():
    _, graph, _ = run(member_of=["Tax Team"], filter="department eq 'Tax'", select=["department"])
    path, sent, headers = graph.calls[-1]
    assert path == "groups/%s/transitiveMembers/microsoft.graph.user" % TAX_TEAM
    assert headers == {"ConsistencyLevel": "eventual"} and sent["$count"] == "true" and sent["$filter"] == "department eq 'Tax'"
    assert sent["$select"] == ",".join(list(q.BASE_SELECT) + ["department"]) and sent["$top"] == "999"


def test_user_list_is_filtered_by_graph_where_cheap():
    _, graph, _ = run(account_enabled=False, user_type="Member", assigned_licenses=["ENTERPRISEPACK", "FLOW_FREE"], licensed=True,
                      company_name="x", domain=["northwindacct.com"], filter="department eq 'Tax'")
    path, sent, headers = graph.calls[-1]
    assert path == "users" and headers == {}  # default query mode: licensed, company_name, domain stay client-side
    assert sent["$filter"] == ("(department eq 'Tax') and accountEnabled eq false and userType eq 'Member' and "
                               "(assignedLicenses/any(l:l/skuId eq %s) or assignedLicenses/any(l:l/skuId eq %s))" % (E3, FLOW))


def test_server_filter_alone_and_none():
    spec = q.build_spec(params(filter="department eq 'Tax'", account_enabled=True))
    assert q.server_filter(spec, None) == "(department eq 'Tax') and accountEnabled eq true"
    assert q.server_filter(q.build_spec(params(filter="x eq 1", licensed=True)), None) == "x eq 1"
    assert q.server_filter(q.build_spec(params()), None) is None
    assert q.server_filter(q.build_spec(params(assigned_licenses=["FLOW_FREE"])), [FLOW]) == "assignedLicenses/any(l:l/skuId eq %s)" % FLOW


def test_shape_has_the_agreed_fields_and_licence_names():
    result, _, _ = run(member_of=["Tax Team"], select=["department"])
    assert result["users"] == [{"id": "u2", "userPrincipalName": TOM["userPrincipalName"], "displayName": "tom.baker", "accountEnabled": True,
                                "userType": "Member", "companyName": "Northwind Accounting", "mail": TOM["userPrincipalName"],
                                "assignedLicenses": [{"skuId": E3, "disabledPlans": []}], "department": "Tax",
                                "licenses": ["ENTERPRISEPACK"]}]


def test_max_items_counts_after_filtering():
    result, graph, _ = run(licensed=False, max_items=2)
    assert upns(result) == [ROOM["userPrincipalName"], SHARED["userPrincipalName"]]
    assert "$top" in graph.calls[-1][1]


# -- mailbox types -------------------------------------------------------------------------------------------------


def test_mailbox_types_mark_room_shared_equipment_and_unlicensed_not_billable_with_one_list_call():
    result, graph, exchange = run(include_mailbox_type=True, exclude_onmicrosoft=False)
    marked = dict((u["userPrincipalName"].split("@")[0], (u["mailbox_type"], u["billable"])) for u in result["users"])
    assert marked == {"sarah.jones": ("UserMailbox", True), "tom.baker": ("UserMailbox", True), "it.admin": ("UserMailbox", True),
                      "boardroom": ("RoomMailbox", False), "reception": ("SharedMailbox", False), "projector": ("EquipmentMailbox", False),
                      "amy.lee": (None, True), "ext_contoso.com#EXT#": (None, False), "no.licence": (None, False)}
    assert exchange.invocations == [("Get-Mailbox", {"ResultSize": "Unlimited"}, q.MAILBOX_SELECT)] and exchange.identities == []


def test_no_exchange_call_when_nobody_is_left():
    result, _, exchange = run(include_mailbox_type=True, member_of=["Tax Team"], account_enabled=False)
    assert result["users"] == [] and exchange.invocations == []


@pytest.mark.parametrize("kind, licences, billable", [
    ("UserMailbox", [{"skuId": E3}], True), (None, [{"skuId": E3}], True), ("SharedMailbox", [{"skuId": E3}], False),
    ("RoomMailbox", [], False), ("EquipmentMailbox", [{"skuId": E3}], False), ("UserMailbox", [], False), (None, [], False),
])
def test_billable(kind, licences, billable):
    assert q.is_billable(kind, licences) is billable


# -- names that match nothing fail before anything else is read -----------------------------------------------------


def test_unknown_group_fails_before_any_other_call():
    graph, exchange = FakeGraph(), FakeExchange()
    spec = q.build_spec(params(member_of=["All Staff", "Tax Teem", "0f0f0f0f-1111-4222-8333-444455556666"], include_mailbox_type=True))
    with pytest.raises(ValidationError) as failure:
        q.run_query(graph, lambda: exchange, spec)
    assert failure.value.message == ("member_of names no group of this tenant: 'Tax Teem', '0f0f0f0f-1111-4222-8333-444455556666'. Check the "
                                     "spelling or give the group's object id (a misspelt group must not read as an empty one).")
    assert failure.value.field == "member_of"
    assert graph.paths() == ["groups", "groups"] and exchange.invocations == []  # the names, then the ids; nothing else
    assert graph.calls[0][1]["$filter"] == "displayName in ('All Staff','Tax Teem')"


def test_unknown_sku_fails_before_any_other_call():
    graph, exchange = FakeGraph(), FakeExchange()
    with pytest.raises(ValidationError) as failure:
        q.run_query(graph, lambda: exchange, q.build_spec(params(assigned_licenses=["ENTERPRISEPREMIUM", "FLOW_FREE"], include_mailbox_type=True)))
    assert failure.value.message == ("assigned_licenses names a licence this tenant does not subscribe to: ENTERPRISEPREMIUM. SKUs on offer: "
                                     "ENTERPRISEPACK, FLOW_FREE, O365_BUSINESS_PREMIUM. Give SKU part numbers or skuIds from that list.")
    assert failure.value.field == "assigned_licenses" and graph.paths() == ["subscribedSkus"] and exchange.invocations == []


def test_groups_resolve_by_name_case_insensitively_and_refuse_shared_names():
    assert q.resolve_groups(["all staff", ALL_STAFF.upper()], GROUPS) == [{"id": ALL_STAFF, "displayName": "All Staff"}]
    twins = [{"id": "b", "displayName": "Partners"}, {"id": "a", "displayName": "partners"}]
    with pytest.raises(ValidationError) as failure:
        q.resolve_groups(["Partners"], twins)
    assert failure.value.message == "member_of: 2 groups are named 'Partners' (object ids a, b); give the object id of the one you mean."


def test_group_queries_quote_and_chunk():
    names = ["O'Brien's team"] + ["g%02d" % i for i in range(15)]
    queries = q.group_queries(names + [ALL_STAFF.upper()])
    assert [x["$filter"] for x in queries][0].startswith("displayName in ('O''Brien''s team','g00',")
    assert len(queries) == 3 and queries[1]["$filter"] == "displayName in ('g14')" and queries[2]["$filter"] == "id in ('%s')" % ALL_STAFF
    assert all(x["$select"] == "id,displayName" for x in queries)


# -- options checked before any call ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options, field, message", [
    ({"member_of": []}, "member_of", "member_of is empty; give at least one group, or leave the option out."),
    ({"member_of": ["All Staff", " "]}, "member_of", "member_of has an empty entry; give group display names or object ids."),
    ({"assigned_licenses": []}, "assigned_licenses", "assigned_licenses is empty; give at least one SKU, or leave the option out."),
    ({"licensed": False, "assigned_licenses": ["FLOW_FREE"]}, "licensed",
     "licensed: false keeps users holding no licence, so assigned_licenses cannot match anyone; use one of the two."),
    ({"company_name": "  "}, "company_name", "company_name is empty; give the company name to match, or leave the option out."),
    ({"domain": ["northwindacct.onmicrosoft.com", "northwindacct.com"]}, "domain",
     "domain lists northwindacct.onmicrosoft.com, but exclude_onmicrosoft (true by default) leaves out every user on a *.onmicrosoft.com "
     "domain. Set exclude_onmicrosoft: false to include them."),
    ({"domain": ["not a domain"]}, "domain", "Domain 'not a domain' is not a valid DNS domain name."),
    ({"max_items": 0}, "max_items", "max_items must be 1 or more; leave it out to read every user."),
])
def test_bad_options_fail_without_a_call(options, field, message):
    with pytest.raises(ValidationError) as failure:
        q.build_spec(params(**options))
    assert failure.value.message == message and failure.value.field == field


def test_filtered_mode():
    assert q.filtered_mode(params()) is True
    assert q.filtered_mode(params(filter="x eq 1")) is False
    assert q.filtered_mode(params(filter="x eq 1", licensed=False)) is True
    assert q.filtered_mode(params(filter="x eq 1", include_mailbox_type=True)) is True
    assert q.filtered_mode(params(user="a@b.com", include_mailbox_type=True)) is False


# -- lookups and filter alone keep Graph's shape ---------------------------------------------------------------------


def test_lookup_by_user_is_never_filtered_and_keeps_graph_shape():
    result, graph, exchange = run(user=IT["userPrincipalName"], select=["id"])
    assert result["users"] == [dict(IT)] and result["skipped_users"] == []
    assert graph.calls == [("users/%s" % IT["userPrincipalName"], {"$select": "id"}, {})] and exchange.invocations == []
    missing, _, _ = run(user="nobody@northwindacct.com")
    assert missing == {"users": [], "count": 0, "skipped_users": []}


def test_lookup_with_mailbox_type_reads_one_mailbox():
    result, graph, exchange = run(user=ROOM["userPrincipalName"], include_mailbox_type=True)
    assert result["count"] == 1 and result["users"][0]["mailbox_type"] == "RoomMailbox" and result["users"][0]["billable"] is False
    assert result["users"][0]["licenses"] == [] and exchange.identities == ["u4"] and exchange.invocations == []
    assert graph.paths() == ["users/%s" % ROOM["userPrincipalName"], "subscribedSkus"]


def test_filter_alone_keeps_onmicrosoft_users_and_graph_shape():
    result, graph, _ = run(filter="startswith(userPrincipalName,'it')", max_items=3)
    assert upns(result) == [u["userPrincipalName"] for u in EVERYONE[:3]] and "licenses" not in result["users"][0]
    assert graph.paths() == ["users"] and graph.calls[0][1]["$filter"] == "startswith(userPrincipalName,'it')"
