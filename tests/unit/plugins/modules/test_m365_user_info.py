# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.modules import m365_user_info
from ansible_collections.practiceprotect.m365.plugins.modules.m365_user_info import query_options


@pytest.mark.parametrize("flt, advanced", [
    ("department eq 'Tax'", False),
    ("startswith(displayName,'Jo')", False),
    ("endswith(mail,'@northwindacct.com')", True),
    ("accountEnabled ne false", True),
    ("not startswith(displayName,'A')", True),
    ("displayName eq 'not endswith(x) ne'", False),
    ("assignedLicenses/$count eq 0", True),
])
def test_advanced_mode_detected_from_filter(flt, advanced):
    params, headers = query_options(flt, ["id"], None)
    assert ("ConsistencyLevel" in headers) is advanced
    assert (params.get("$count") == "true") is advanced
    assert params["$filter"] == flt and params["$select"] == "id" and params["$top"] == "999"


def test_explicit_override():
    params, headers = query_options("department eq 'Tax'", None, True)
    assert headers == {"ConsistencyLevel": "eventual"} and "$select" not in params


# -- main() against canned Graph and Exchange answers (fixtures in conftest.py) -------------------------------------

JANE_ID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"
TOM_ID = "9e3c1b7a-2d4f-4a6e-8b5c-1f7d3e9a2c08"
SVC_ID = "2c4e6a8b-0d1f-4e3a-8c5b-7d9e1f3a5c7e"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
TAX_GROUP = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SKUS = [{"skuId": PREMIUM, "skuPartNumber": "O365_BUSINESS_PREMIUM"},
        {"skuId": "f30db892-07e9-47e9-837c-80727f46fd3d", "skuPartNumber": "FLOW_FREE"}]


def person(user_id, upn, name, licensed=True, enabled=True, company="Northwind Accounting"):
    return {"id": user_id, "userPrincipalName": upn, "displayName": name, "accountEnabled": enabled, "userType": "Member",
            "companyName": company, "mail": upn, "assignedLicenses": [{"disabledPlans": [], "skuId": PREMIUM}] if licensed else []}


JANE = person(JANE_ID, "jane.citizen@northwindacct.com", "Jane Citizen")
TOM = person(TOM_ID, "tom.baker@northwindacct.com", "Tom Baker", licensed=False)
SVC = person(SVC_ID, "practiceprotect@northwindacct.onmicrosoft.com", "Practice Protect")


def test_main_lookup_by_user_returns_graphs_object(fake, run_module, m365_args):
    fake.graph("GET", r"users/jane\.citizen@northwindacct\.com",
               (200, dict(JANE, **{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName)/$entity"})))

    result = run_module(m365_user_info, dict(m365_args, user="jane.citizen@northwindacct.com", select=["id", "userPrincipalName"]))

    assert result["changed"] is False and result["count"] == 1
    assert result["users"][0]["id"] == JANE_ID and "@odata.context" not in result["users"][0]
    (request,) = fake.requests
    assert request.method == "GET" and request.query == {"$select": "id,userPrincipalName"}
    assert result["graph_requests"] == 1 and result["exchange_requests"] == 0


def test_main_unknown_user_is_an_empty_answer(fake, run_module, m365_args):
    fake.graph("GET", r"users/nobody@northwindacct\.com", fake.graph_error(404, "Request_ResourceNotFound",
                                                                           "Resource 'nobody@northwindacct.com' does not exist or one of its "
                                                                           "queried reference-property objects are not present."))

    result = run_module(m365_user_info, dict(m365_args, user="nobody@northwindacct.com"))

    assert result["changed"] is False and result["users"] == [] and result["count"] == 0
    assert fake.calls() == [("GET", "/v1.0/users/nobody@northwindacct.com")]


def test_main_advanced_filter_follows_next_link_with_the_header(fake, run_module, m365_args):
    link = "https://graph.microsoft.com/v1.0/users?$filter=endswith(mail,'@northwindacct.com')&$count=true&$skiptoken=RFNwdAIAAQAAAA"
    fake.graph("GET", "users", fake.page([JANE], next_link=link), when=lambda r: "$skiptoken" not in r.query)
    fake.graph("GET", "users", fake.page([TOM]), when=lambda r: r.query.get("$skiptoken") == "RFNwdAIAAQAAAA")

    result = run_module(m365_user_info, dict(m365_args, filter="endswith(mail,'@northwindacct.com')"), check_mode=True)

    assert [u["userPrincipalName"] for u in result["users"]] == ["jane.citizen@northwindacct.com", "tom.baker@northwindacct.com"]
    first, second = fake.requests
    assert first.query == {"$top": "999", "$filter": "endswith(mail,'@northwindacct.com')", "$count": "true"}
    assert first.headers["ConsistencyLevel"] == second.headers["ConsistencyLevel"] == "eventual"
    assert second.query["$skiptoken"] == "RFNwdAIAAQAAAA"
    assert fake.writes() == []


def test_main_filtered_mode_reads_group_members_and_mailbox_types(fake, run_module, m365_args):
    fake.graph("GET", "groups", fake.page([{"id": TAX_GROUP, "displayName": "Tax Team"}], context="groups"),
               when=lambda r: r.filter == "displayName in ('Tax Team')")
    fake.graph("GET", "subscribedSkus", fake.page(SKUS, context="subscribedSkus"))
    fake.graph("GET", r"groups/%s/transitiveMembers/microsoft\.graph\.user" % TAX_GROUP, fake.page([JANE, TOM, SVC]))
    fake.exchange("Get-Mailbox", fake.exo([
        {"ExternalDirectoryObjectId": JANE_ID, "UserPrincipalName": JANE["userPrincipalName"], "RecipientTypeDetails": "UserMailbox"},
        {"ExternalDirectoryObjectId": TOM_ID, "UserPrincipalName": TOM["userPrincipalName"], "RecipientTypeDetails": "SharedMailbox"}]))

    result = run_module(m365_user_info, dict(m365_args, member_of=["Tax Team"], account_enabled=True, include_mailbox_type=True))

    assert result["changed"] is False
    assert [(u["userPrincipalName"], u["licenses"], u["mailbox_type"], u["billable"]) for u in result["users"]] == [
        ("jane.citizen@northwindacct.com", ["O365_BUSINESS_PREMIUM"], "UserMailbox", True),
        ("tom.baker@northwindacct.com", [], "SharedMailbox", False)]
    assert result["skipped_users"] == [{"userPrincipalName": "practiceprotect@northwindacct.onmicrosoft.com", "reason": "onmicrosoft"}]
    members = [r for r in fake.requests if "transitiveMembers" in r.path][0]
    assert members.headers["ConsistencyLevel"] == "eventual" and members.query["$count"] == "true"
    (mailboxes,) = fake.sent("exchange")
    assert mailboxes.method == "POST" and mailboxes.cmdlet == "Get-Mailbox" and mailboxes.parameters == {"ResultSize": "Unlimited"}
    assert mailboxes.query["$select"] == "ExternalDirectoryObjectId,UserPrincipalName,RecipientTypeDetails"
    assert fake.writes() == [] and result["exchange_requests"] == 1


def test_main_unknown_group_fails_before_users_are_read(fake, run_module, m365_args):
    fake.graph("GET", "groups", fake.page([], context="groups"))

    result = run_module(m365_user_info, dict(m365_args, member_of=["Tax Taem"]))

    assert result["failed"] is True and result["field"] == "member_of"
    assert result["msg"].startswith("member_of names no group of this tenant: 'Tax Taem'.")
    assert fake.calls() == [("GET", "/v1.0/groups")]


def test_main_users_lookup_reports_missing_keys_and_extensions(fake, run_module, m365_args):
    marker = {"@odata.type": "#microsoft.graph.openTypeExtension", "id": "com.northwind.onboarding", "extensionName": "com.northwind.onboarding",
              "passwordDelivered": False}
    fake.graph("GET", "users", fake.users_by_key([dict(JANE, extensions=[marker])]))

    result = run_module(m365_user_info, dict(m365_args, users=["jane.citizen@northwindacct.com", "ghost@northwindacct.com"],
                                             extensions=["com.northwind.onboarding"]))

    assert result["missing"] == ["ghost@northwindacct.com"] and result["count"] == 1
    assert result["users"][0]["extensions"] == {"com.northwind.onboarding": {"passwordDelivered": False}}
    (request,) = fake.requests
    assert request.query["$expand"] == "extensions"
    assert request.filter == "userPrincipalName in ('ghost@northwindacct.com','jane.citizen@northwindacct.com')"


def test_main_graph_403_names_the_read_permission(fake, run_module, m365_args):
    fake.graph("GET", "users", fake.graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))

    result = run_module(m365_user_info, dict(m365_args, filter="department eq 'Tax'"))

    assert result["failed"] is True and result["status"] == 403 and result["error_code"] == "Authorization_RequestDenied"
    assert "permission for GET users (any one of: User.Read.All, User.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All)" in result["msg"]


def test_main_bad_input_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_user_info, dict(m365_args, max_items=0))
    assert result["failed"] is True and result["msg"] == "max_items must be 1 or more; leave it out to read every user."
    assert fake.requests == []

    result = run_module(m365_user_info, dict(m365_args, user="jane.citizen@northwindacct.com", filter="department eq 'Tax'"))
    assert result["failed"] is True and result["msg"] == "parameters are mutually exclusive: user|filter"
    assert fake.requests == []


def test_main_missing_connection_is_named_and_the_secret_is_never_printed(fake, run_module, m365_args):
    result = run_module(m365_user_info, dict(m365_args, tenant_id=None, user="jane.citizen@northwindacct.com"))
    assert result["failed"] is True
    assert result["msg"] == "Missing tenant_id: set the option or the environment variable M365_TENANT_ID."
    assert fake.requests == [] and m365_args["client_secret"] not in run_module.output

    fake.graph("GET", r"users/jane\.citizen@northwindacct\.com", (200, JANE))
    result = run_module(m365_user_info, dict(m365_args, user="jane.citizen@northwindacct.com"))
    assert result["users"][0]["id"] == JANE_ID
    assert result["invocation"]["module_args"]["client_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert m365_args["client_secret"] not in run_module.output


def test_main_401_is_retried_once_with_a_fresh_token_then_reported(fake, run_module, m365_args):
    refused = fake.graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    fake.graph("GET", r"users/jane\.citizen@northwindacct\.com", refused)

    result = run_module(m365_user_info, dict(m365_args, user="jane.citizen@northwindacct.com"))

    assert result["failed"] is True and result["status"] == 401
    assert result["msg"] == "Access token validation failure. Invalid audience. Check tenant_id, client_id and the credential."
    assert len(fake.requests) == 2 and fake.token_providers[0].forgotten == ["https://graph.microsoft.com"]
