# -*- coding: utf-8 -*-
"""m365_user_info's filters through real ansible-playbook runs against the sandbox (groups, licences, mailbox types)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import parse_qs
except ImportError:  # pragma: no cover
    from urlparse import parse_qs

from tests.integration.support import documented_permissions, documented_row, play

EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
FLOW_FREE = "f30db892-07e9-47e9-837c-80727f46fd3d"
TAX_TEAM = "3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04"
TOM_ID = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"

# The default seed: admin@ and it.admin@ on the initial domain, a room mailbox, sarah and tom (tom through Tax Team).
ADMIN = "admin@northwindacct.onmicrosoft.com"
IT_ADMIN = "it.admin@northwindacct.onmicrosoft.com"
SARAH = "sarah.jones@northwindacct.com"
TOM = "tom.baker@northwindacct.com"
BOARDROOM = "boardroom@northwindacct.com"
# Added per test.
AMY = "amy.lee@northwindacct.com"
FORMER = "former.staff@northwindacct.com"
RECEPTION = "reception@northwindacct.com"
PROJECTOR = "projector@northwindacct.com"
NO_LICENCE = "no.licence@northwindacct.com"
GUEST = "ext.auditor_contoso.com#EXT#@northwindacct.onmicrosoft.com"
EXTRA_USERS = [
    {"userPrincipalName": AMY, "displayName": "Amy Lee", "companyName": "Northwind Accounting", "usageLocation": "AU", "licenses": ["FLOW_FREE"]},
    {"userPrincipalName": FORMER, "displayName": "Former Staff", "accountEnabled": False, "usageLocation": "AU",
     "licenses": ["O365_BUSINESS_PREMIUM"]},
    {"userPrincipalName": RECEPTION, "displayName": "Reception", "accountEnabled": False, "mailboxType": "SharedMailbox"},
    {"userPrincipalName": PROJECTOR, "displayName": "Projector", "accountEnabled": False, "mailboxType": "EquipmentMailbox"},
    {"userPrincipalName": NO_LICENCE, "displayName": "No Licence"},
    {"userPrincipalName": GUEST, "displayName": "External Auditor", "userType": "Guest"},
]
EXTRA_GROUPS = [{"displayName": "Front Office", "members": [RECEPTION, PROJECTOR, NO_LICENCE, FORMER]}]


def info(name, **options):
    return {"name": name, "practiceprotect.m365.m365_user_info": options, "register": name}


def upns(result):
    return sorted(u["userPrincipalName"] for u in result["users"])


def skipped(result):
    assert all(s["reason"] == "onmicrosoft" for s in result["skipped_users"]), result["skipped_users"]
    return sorted(s["userPrincipalName"] for s in result["skipped_users"])


def graph_and_exchange(sandbox, since):
    return [e for e in sandbox.log(since) if e["service"] in ("graph", "exchange")]


def test_each_filter_alone_and_combined(sandbox, run_playbook):
    sandbox.seed(EXTRA_USERS, EXTRA_GROUPS)
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    tasks = [
        info("everyone"),
        info("all_staff", member_of=["All Staff"]),
        info("by_id", member_of=[TAX_TEAM]),
        info("two_groups", member_of=["all staff", "Front Office"]),
        info("enabled", account_enabled=True),
        info("disabled", account_enabled=False),
        info("licensed", licensed=True),
        info("unlicensed", licensed=False),
        info("e3", assigned_licenses=["ENTERPRISEPACK"]),
        info("premium_or_flow", assigned_licenses=["o365_business_premium", FLOW_FREE]),
        info("company", company_name=" northwind ACCOUNTING "),
        info("guests", user_type="Guest", exclude_onmicrosoft=False),
        info("initial_domain", domain=["northwindacct.onmicrosoft.com"], exclude_onmicrosoft=False),
        info("combined", member_of=["All Staff", "Front Office"], account_enabled=True, licensed=True, user_type="Member",
             domain=["northwindacct.com"]),
        info("onmicrosoft_kept", member_of=["All Staff"], exclude_onmicrosoft=False),
        info("capped", max_items=2, select=["department"]),
        info("legacy_lookup", user=IT_ADMIN, select=["id", "userPrincipalName"]),
        info("legacy_filter", filter="startswith(userPrincipalName,'it.admin')", select=["userPrincipalName"]),
        info("mailboxes", member_of=["All Staff", "Front Office"], exclude_onmicrosoft=False, include_mailbox_type=True),
        info("lookup_mailbox", user=BOARDROOM, include_mailbox_type=True),
    ]
    run = run_playbook(play(*tasks), check=True, expect_rc=0)
    r = dict((t["name"], run.result(t["name"])) for t in tasks)
    assert run.changed() == 0

    everyone = r["everyone"]
    assert upns(everyone) == sorted([SARAH, TOM, BOARDROOM, AMY, FORMER, RECEPTION, PROJECTOR, NO_LICENCE])
    assert skipped(everyone) == sorted([ADMIN, IT_ADMIN, GUEST]) and everyone["count"] == 8
    assert everyone["graph_requests"] == 2 and everyone["exchange_requests"] == 0  # SKU names, then one user list
    sarah = [u for u in everyone["users"] if u["userPrincipalName"] == SARAH][0]
    assert sarah["licenses"] == ["ENTERPRISEPACK"] and sarah["accountEnabled"] is True and sarah["userType"] == "Member"
    assert set(sarah) >= {"id", "displayName", "companyName", "mail", "assignedLicenses"} and "billable" not in sarah

    # member_of: nested groups count (tom is in Tax Team, which is in All Staff); names are not case-sensitive; ids work.
    assert upns(r["all_staff"]) == sorted([SARAH, BOARDROOM, TOM]) and skipped(r["all_staff"]) == [IT_ADMIN]
    assert r["all_staff"]["graph_requests"] == 3  # the group by name, SKU names, the group's transitive user members
    assert upns(r["by_id"]) == [TOM]
    assert upns(r["two_groups"]) == sorted([SARAH, BOARDROOM, TOM, RECEPTION, PROJECTOR, NO_LICENCE, FORMER])
    assert r["two_groups"]["graph_requests"] == 4  # both names in one group query, SKUs, one member list per group

    assert upns(r["enabled"]) == sorted([SARAH, TOM, AMY, NO_LICENCE]) and skipped(r["enabled"]) == sorted([ADMIN, IT_ADMIN, GUEST])
    assert upns(r["disabled"]) == sorted([BOARDROOM, FORMER, RECEPTION, PROJECTOR]) and skipped(r["disabled"]) == []
    assert upns(r["licensed"]) == sorted([SARAH, TOM, AMY, FORMER]) and skipped(r["licensed"]) == [IT_ADMIN]
    assert upns(r["unlicensed"]) == sorted([BOARDROOM, RECEPTION, PROJECTOR, NO_LICENCE]) and skipped(r["unlicensed"]) == sorted([ADMIN, GUEST])
    assert upns(r["e3"]) == [SARAH, TOM]
    assert upns(r["premium_or_flow"]) == sorted([AMY, FORMER]) and skipped(r["premium_or_flow"]) == [IT_ADMIN]
    assert upns(r["company"]) == [AMY] and skipped(r["company"]) == [IT_ADMIN]
    assert upns(r["guests"]) == [GUEST] and r["guests"]["users"][0]["userType"] == "Guest"
    assert upns(r["initial_domain"]) == sorted([ADMIN, IT_ADMIN, GUEST]) and r["initial_domain"]["skipped_users"] == []
    assert upns(r["combined"]) == [SARAH, TOM] and r["combined"]["skipped_users"] == []
    assert upns(r["onmicrosoft_kept"]) == sorted([SARAH, BOARDROOM, IT_ADMIN, TOM]) and r["onmicrosoft_kept"]["skipped_users"] == []
    assert r["capped"]["count"] == 2 and "department" in r["capped"]["users"][0]

    # A lookup by user, and filter alone, keep Graph's own shape and are never filtered.
    assert r["legacy_lookup"]["users"] == [{"id": r["legacy_lookup"]["users"][0]["id"], "userPrincipalName": IT_ADMIN}]
    assert r["legacy_filter"]["users"] == [{"userPrincipalName": IT_ADMIN}] and r["legacy_filter"]["skipped_users"] == []

    # Mailbox types: one Exchange list for everyone; shared, room, equipment and unlicensed are not billable.
    marked = dict((u["userPrincipalName"], (u["mailbox_type"], u["billable"])) for u in r["mailboxes"]["users"])
    assert marked == {SARAH: ("UserMailbox", True), TOM: ("UserMailbox", True), IT_ADMIN: ("UserMailbox", True),
                      BOARDROOM: ("RoomMailbox", False), RECEPTION: ("SharedMailbox", False), PROJECTOR: ("EquipmentMailbox", False),
                      NO_LICENCE: (None, False), FORMER: ("UserMailbox", True)}
    assert r["mailboxes"]["exchange_requests"] == 1
    assert r["lookup_mailbox"]["users"][0]["mailbox_type"] == "RoomMailbox" and r["lookup_mailbox"]["users"][0]["billable"] is False
    assert r["lookup_mailbox"]["exchange_requests"] == 1

    log = graph_and_exchange(sandbox, mark)
    mailbox_calls = [e for e in log if e["service"] == "exchange"]
    assert [(e["cmdlet"], e["body_keys"]) for e in mailbox_calls] == [("Get-Mailbox", ["ResultSize"]), ("Get-Mailbox", ["Identity"])]
    filters = [parse_qs(e["query"]).get("$filter", [None])[0] for e in log if e["path"] == "/v1.0/users"]
    # Graph filters account_enabled and assigned_licenses; licensed, company_name and domain are filtered by the module.
    assert "assignedLicenses/any(l:l/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)" in filters
    assert "accountEnabled eq true" in filters and filters.count(None) >= 4
    assert [e for e in log if e["write"]] == []


UNKNOWN_GROUP = ("member_of names no group of this tenant: 'Tax Teem'. Check the spelling or give the group's object id (a misspelt "
                 "group must not read as an empty one).")
UNKNOWN_SKU = ("assigned_licenses names a licence this tenant does not subscribe to: ENTERPRISEPREMIUM. SKUs on offer: ENTERPRISEPACK, "
               "EXCHANGESTANDARD, FLOW_FREE, O365_BUSINESS_ESSENTIALS, O365_BUSINESS_PREMIUM, SPB. Give SKU part numbers or skuIds "
               "from that list.")
MISSING_ID = "0f0f0f0f-1111-4222-8333-444455556666"


def test_unknown_groups_and_skus_fail_before_any_other_call(sandbox, run_playbook):
    created = sandbox.seed([], [{"displayName": "Partners"}, {"displayName": "Partners"}])["created"]
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    tasks = [dict(info(name, **options), ignore_errors=True) for name, options in (
        ("typo", dict(member_of=["All Staff", "Tax Teem"], include_mailbox_type=True)),
        ("missing_id", dict(member_of=[MISSING_ID])),
        ("ambiguous", dict(member_of=["partners"])),
        ("unknown_sku", dict(assigned_licenses=["ENTERPRISEPREMIUM", "FLOW_FREE"], member_of=["All Staff"])),
        ("contradiction", dict(licensed=False, assigned_licenses=["FLOW_FREE"])),
        ("initial_domain", dict(domain=["northwindacct.onmicrosoft.com"])),
        ("user_and_filters", dict(user=SARAH, member_of=["All Staff"])),
    )]
    run = run_playbook(play(*tasks), expect_rc=0)
    for task in tasks:
        assert run.task(task["name"])["status"] == "failed", task["name"]
    assert run.result("typo")["msg"] == UNKNOWN_GROUP and run.result("typo")["field"] == "member_of"
    assert run.result("missing_id")["msg"].startswith("member_of names no group of this tenant: '%s'." % MISSING_ID)
    assert run.result("ambiguous")["msg"] == ("member_of: 2 groups are named 'partners' (object ids %s); give the object id of the one "
                                              "you mean." % ", ".join(sorted(created)))
    assert run.result("unknown_sku")["msg"] == UNKNOWN_SKU and run.result("unknown_sku")["field"] == "assigned_licenses"
    assert run.result("contradiction")["msg"].startswith("licensed: false keeps users holding no licence")
    assert run.result("initial_domain")["msg"] == ("domain lists northwindacct.onmicrosoft.com, but exclude_onmicrosoft (true by default) "
                                                   "leaves out every user on a *.onmicrosoft.com domain. Set exclude_onmicrosoft: false "
                                                   "to include them.")
    assert "mutually exclusive" in run.result("user_and_filters")["msg"]
    # Only the lookups that found the problem: no user list, no member list, no Exchange call.
    calls = [(e["method"], e["path"]) for e in graph_and_exchange(sandbox, mark)]
    assert calls == [("GET", "/v1.0/groups"), ("GET", "/v1.0/groups"), ("GET", "/v1.0/groups"),
                     ("GET", "/v1.0/groups"), ("GET", "/v1.0/subscribedSkus")]


def test_membership_changes_through_graph_are_followed(sandbox, run_playbook):
    graph = sandbox.graph_session()
    try:
        removed = graph.delete("%s/groups/%s/members/%s/$ref" % (sandbox.graph_url, TAX_TEAM, TOM_ID))
        assert removed.status_code == 204, removed.text
        for member in graph.get("%s/groups/%s/members" % (sandbox.graph_url, TAX_TEAM)).json()["value"]:
            raise AssertionError("Tax Team still has %s" % member)
    finally:
        graph.close()
    run = run_playbook(play(info("staff", member_of=["All Staff"], account_enabled=True),
                            info("tax", member_of=["Tax Team"])), expect_rc=0)
    assert upns(run.result("staff")) == [SARAH]  # the leaver is gone; the room mailbox is disabled
    assert run.result("tax")["users"] == [] and run.result("tax")["count"] == 0  # an emptied group reads as empty, not as an error


def test_documented_permissions_are_enough_and_a_missing_one_is_named(sandbox, run_playbook):
    roles = documented_permissions("m365_user_info")
    assert roles == ["User.Read.All", "Organization.Read.All", "GroupMember.Read.All", "Exchange.ManageAsApp"]
    assert "Exchange Administrator" in documented_row("m365_user_info")
    app = sandbox.add_app("m365_user_info least privilege", roles, directory_roles=[EXCHANGE_ADMIN])
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    run = run_playbook(play(info("staff", member_of=["All Staff"], include_mailbox_type=True)), env=env, expect_rc=0)
    assert upns(run.result("staff")) == sorted([SARAH, BOARDROOM, TOM])
    without = sandbox.add_app("m365_user_info without GroupMember.Read.All", ["User.Read.All", "Organization.Read.All"])
    failed = run_playbook(play(info("staff", member_of=["All Staff"])),
                          env={"M365_CLIENT_ID": without["client_id"], "M365_CLIENT_SECRET": without["client_secret"]})
    result = failed.result("staff")
    assert failed.rc == 2 and result["status"] == 403 and result["error_code"] == "Authorization_RequestDenied"
    assert "lacks a Microsoft Graph permission for GET groups" in result["msg"]


def test_many_users_by_key_with_their_open_extensions(sandbox, run_playbook):
    # Tom keeps a leaver record in an open extension; the lookup returns it, in 15-value in() queries.
    run_playbook(play({"name": "record", "practiceprotect.m365.m365_user": {
        "user": TOM, "extensions": {"com.practiceprotect.m365": {"leaver": "{}"}}}}), expect_rc=0)
    sandbox.seed([{"userPrincipalName": "bulk%02d@northwindacct.com" % i, "displayName": "Bulk %d" % i} for i in range(20)])
    keys = [TOM, SARAH.upper(), "nobody@northwindacct.com", TOM_ID] + ["bulk%02d@northwindacct.com" % i for i in range(20)]
    mark = sandbox.log()[-1]["seq"]
    run = run_playbook(play({"name": "many", "practiceprotect.m365.m365_user_info": {
        "users": keys, "select": ["id", "userPrincipalName", "accountEnabled"], "extensions": ["com.practiceprotect.m365"]}, "register": "r"}),
        expect_rc=0)
    r = run.result("many")
    assert r["missing"] == ["nobody@northwindacct.com"]
    upns = [u["userPrincipalName"].lower() for u in r["users"]]
    assert upns[:2] == [TOM, SARAH] and len(upns) == 22  # Tom once, though named by UPN and by id
    assert r["users"][0]["extensions"] == {"com.practiceprotect.m365": {"leaver": "{}"}} and r["users"][1]["extensions"] == {}
    queries = [parse_qs(e["query"]) for e in sandbox.log(since=mark) if e["service"] == "graph" and e["path"] == "/v1.0/users"]
    assert len(queries) == 3  # 22 UPNs in two queries of at most 15, one id query
    assert all(q["$expand"] == ["extensions"] for q in queries)
