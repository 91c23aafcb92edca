# -*- coding: utf-8 -*-
"""m365_address_info's main() against canned Graph and Exchange Online admin API answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import m365_address_info

TOM_ID = "9e3c1b7a-2d4f-4a6e-8b5c-1f7d3e9a2c08"
TAX_ID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
TOM = {"id": TOM_ID, "userPrincipalName": "tom.baker@northwindacct.com", "displayName": "Tom Baker", "mail": "tom.baker@northwindacct.com",
       "proxyAddresses": ["SMTP:tom.baker@northwindacct.com", "smtp:tb@northwindacct.com"]}
TAX = {"id": TAX_ID, "displayName": "Tax Team", "mail": "tax@northwindacct.com",
       "proxyAddresses": ["SMTP:tax@northwindacct.com", "SPO:SPO_9f1c@SPO_b7f0c5c1"]}
ACCEPTED = [{"DomainName": "northwindacct.com", "DomainType": "Authoritative", "Default": True},
            {"DomainName": "NorthwindAcct.onmicrosoft.com", "DomainType": "Authoritative", "Default": False}]


def tenant(fake, users=(TOM,), groups=(TAX,)):
    fake.exchange("Get-AcceptedDomain", fake.exo(ACCEPTED))

    def holding(objects):
        def answer(request):
            wanted = set(a.split(":", 1)[-1] for a in fake.in_values(request.filter))
            found = [o for o in objects if wanted & set([(o.get("mail") or "").lower(), (o.get("userPrincipalName") or "").lower()]
                                                        + [p.split(":", 1)[-1].lower() for p in o.get("proxyAddresses") or []])]
            return fake.page(found)
        return answer
    fake.graph("GET", "users", holding(users))
    fake.graph("GET", "groups", holding(groups))


def test_holders_and_accepted_domains_of_each_address(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_address_info, dict(m365_args, addresses=["smtp:TB@northwindacct.com", "tax@northwindacct.com",
                                                                      "jane@contoso.com", "tb@northwindacct.com"]))

    assert result["changed"] is False
    assert result["accepted_domains"] == ["northwindacct.com", "northwindacct.onmicrosoft.com"]
    assert result["addresses"] == {
        "tb@northwindacct.com": {"domain": "northwindacct.com", "accepted": True, "holders": [
            {"id": TOM_ID, "userPrincipalName": "tom.baker@northwindacct.com", "displayName": "Tom Baker", "kind": "user"}]},
        "tax@northwindacct.com": {"domain": "northwindacct.com", "accepted": True, "holders": [
            {"id": TAX_ID, "userPrincipalName": "tax@northwindacct.com", "displayName": "Tax Team", "kind": "group"}]},
        "jane@contoso.com": {"domain": "contoso.com", "accepted": False, "holders": []}}
    # Three addresses in one query per collection, each asked as proxy address, mail (and, for users, sign-in name).
    users, groups = [r for r in fake.sent("graph") if r.path == "/v1.0/users"], [r for r in fake.sent("graph") if r.path == "/v1.0/groups"]
    assert len(users) == len(groups) == 1
    assert "proxyAddresses/any(p:p eq 'smtp:tb@northwindacct.com') or mail eq 'tb@northwindacct.com' or userPrincipalName eq " \
           "'tb@northwindacct.com'" in users[0].filter
    assert "userPrincipalName" not in groups[0].filter and groups[0].query["$select"] == "id,displayName,mail,proxyAddresses"
    (accepted,) = fake.sent("exchange")
    assert accepted.method == "POST" and accepted.cmdlet == "Get-AcceptedDomain"
    assert fake.writes() == [] and result["graph_requests"] == 2 and result["exchange_requests"] == 1


def test_check_mode_reads_the_same_and_writes_nothing(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_address_info, dict(m365_args, addresses=["free@northwindacct.com"]), check_mode=True)

    assert result["changed"] is False
    assert result["addresses"] == {"free@northwindacct.com": {"domain": "northwindacct.com", "accepted": True, "holders": []}}
    assert fake.writes() == [] and len(fake.requests) == 3


def test_many_addresses_read_the_directory_once_following_every_page(fake, run_module, m365_args):
    fake.exchange("Get-AcceptedDomain", fake.exo(ACCEPTED))
    link = "https://graph.microsoft.com/v1.0/users?$select=id,userPrincipalName,displayName,mail,proxyAddresses&$top=999&$skiptoken=X2"
    fake.graph("GET", "users", fake.page([], next_link=link), when=lambda r: "$skiptoken" not in r.query)
    fake.graph("GET", "users", fake.page([TOM]), when=lambda r: r.query.get("$skiptoken") == "X2")
    fake.graph("GET", "groups", fake.page([TAX]))
    addresses = ["person%02d@northwindacct.com" % n for n in range(16)] + ["tb@northwindacct.com"]

    result = run_module(m365_address_info, dict(m365_args, addresses=addresses))

    assert result["addresses"]["tb@northwindacct.com"]["holders"][0]["id"] == TOM_ID
    assert result["addresses"]["person00@northwindacct.com"]["holders"] == []
    graph = fake.sent("graph")
    assert [(r.path, "$filter" in r.query) for r in graph] == [("/v1.0/groups", False), ("/v1.0/users", False), ("/v1.0/users", False)]
    assert graph[0].query["$top"] == "999"


def test_a_refused_group_read_names_the_permission(fake, run_module, m365_args):
    tenant(fake)
    fake.graph("GET", "groups", fake.graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))

    result = run_module(m365_address_info, dict(m365_args, addresses=["tax@northwindacct.com"]))

    assert result["failed"] is True and result["status"] == 403 and result["method"] == "GET" and result["path"] == "groups"
    assert "permission for GET groups (any one of: GroupMember.Read.All, GroupMember.ReadWrite.All, Group.Read.All" in result["msg"]


def test_exchange_refusing_the_app_names_exchange_manage_as_app(fake, run_module, m365_args):
    refusal = {"error": {"code": "Unauthorized", "message": "The role assigned to application 0c8a5e42 isn't supported in this scenario."}}
    fake.exchange("Get-AcceptedDomain", (401, refusal))

    result = run_module(m365_address_info, dict(m365_args, addresses=["tax@northwindacct.com"]))

    assert result["failed"] is True and result["status"] == 401 and result["cmdlet"] == "Get-AcceptedDomain"
    assert result["msg"].startswith("Exchange Online refused Get-AcceptedDomain: The role assigned to application 0c8a5e42 isn't supported")
    assert "Exchange.ManageAsApp" in result["msg"] and "Exchange Administrator role" in result["msg"]
    # A 401 is answered once more with a fresh token, then reported.
    assert [r.cmdlet for r in fake.sent("exchange")] == ["Get-AcceptedDomain", "Get-AcceptedDomain"]
    assert fake.token_providers[0].forgotten == ["https://outlook.office365.com"]
    assert fake.sent("graph") == []


def test_bad_input_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_address_info, dict(m365_args, addresses=["tax@northwindacct.com", "SMTP:jane@northwindacct.com"]))
    assert result["failed"] is True and result["field"] == "addresses[1]"
    assert result["msg"].startswith("addresses[1]: 'SMTP:jane@northwindacct.com' is marked as the primary address (SMTP:)")
    assert fake.requests == []

    result = run_module(m365_address_info, dict(m365_args, addresses=["jane at northwind"]))
    assert result["failed"] is True and result["msg"].startswith("addresses[0] 'jane at northwind' is not a valid e-mail address")
    assert fake.requests == []

    result = run_module(m365_address_info, dict(m365_args))
    assert result["failed"] is True and result["msg"] == "missing required arguments: addresses"
    assert fake.requests == [] and m365_args["client_secret"] not in run_module.output
