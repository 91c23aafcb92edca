# -*- coding: utf-8 -*-
"""m365_user's main() against canned Microsoft Graph (and Exchange) answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import m365_user

UPN = "jane.citizen@northwindacct.com"
JANE_ID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"
SARAH_ID = "4d9a7c21-5e3b-4f8a-b1c6-7e2d9f0a3b54"
TOM_ID = "9e3c1b7a-2d4f-4a6e-8b5c-1f7d3e9a2c08"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
FLOW = "f30db892-07e9-47e9-837c-80727f46fd3d"
EXCHANGE_STD = "4b9405b0-7788-4568-add1-99614e613b69"

DOMAINS = [
    {"id": "northwindacct.com", "authenticationType": "Managed", "isDefault": True, "isInitial": False, "isVerified": True},
    {"id": "northwindacct.onmicrosoft.com", "authenticationType": "Managed", "isDefault": False, "isInitial": True, "isVerified": True},
    {"id": "northwind-legacy.com", "authenticationType": "Managed", "isDefault": False, "isInitial": False, "isVerified": False},
]


def sku(sku_id, part, consumed, enabled):
    return {"id": "b7f0c5c1-6d3e-4f0a-9a51-1f2e3d4c5b6a_" + sku_id, "capabilityStatus": "Enabled", "consumedUnits": consumed,
            "skuId": sku_id, "skuPartNumber": part, "appliesTo": "User", "prepaidUnits": {"enabled": enabled, "suspended": 0, "warning": 0}}


SKUS = [sku(PREMIUM, "O365_BUSINESS_PREMIUM", 7, 10), sku(FLOW, "FLOW_FREE", 2, 10000), sku(EXCHANGE_STD, "EXCHANGESTANDARD", 1, 5),
        sku("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 2, 2)]

SARAH = {"id": SARAH_ID, "userPrincipalName": "sarah.jones@northwindacct.com", "displayName": "Sarah Jones", "accountEnabled": True,
         "mail": "sarah.jones@northwindacct.com", "assignedLicenses": []}


def jane(**changes):
    """Jane as Graph returns her (the module's $select), as created by JANE_OPTIONS."""
    user = {"id": JANE_ID, "userPrincipalName": UPN, "mail": UPN, "displayName": "Jane Citizen", "givenName": "Jane", "surname": "Citizen",
            "mailNickname": "jane.citizen", "jobTitle": "Accountant", "department": "Tax", "companyName": None, "officeLocation": None,
            "mobilePhone": "+61412345678", "businessPhones": [], "usageLocation": "AU", "otherMails": [], "employeeId": None,
            "employeeType": None, "employeeHireDate": None, "accountEnabled": True,
            "assignedLicenses": [{"disabledPlans": [], "skuId": PREMIUM}],
            "signInSessionsValidFromDateTime": "2024-03-01T09:00:00Z", "lastPasswordChangeDateTime": "2024-03-01T09:00:00Z",
            "manager": {"@odata.type": "#microsoft.graph.user", "id": SARAH_ID, "userPrincipalName": "sarah.jones@northwindacct.com"}}
    user.update(changes)
    return user


JANE_OPTIONS = dict(user=UPN, given_name="Jane", surname="Citizen", job_title="Accountant", department="Tax", mobile_phone="0412 345 678",
                    phone_region="AU", usage_location="AU", licenses={"add": ["O365_BUSINESS_PREMIUM"]}, manager="sarah.jones@northwindacct.com")


def tenant(fake, users=(), deleted=()):
    """The reads m365_user makes: domains, SKUs, users by UPN, deleted users by UPN."""
    fake.graph("GET", "domains", fake.page(DOMAINS, context="domains"))
    fake.graph("GET", "subscribedSkus", fake.page(SKUS, context="subscribedSkus"))
    fake.graph("GET", "users", fake.users_by_key(list(users)))

    def deleted_answer(request):
        assert request.headers.get("ConsistencyLevel") == "eventual" and request.query["$count"] == "true"
        upn = fake.in_values(request.filter)[0]
        return fake.page([d for d in deleted if d["userPrincipalName"].lower().endswith(upn)], context="directoryObjects")
    fake.graph("GET", r"directory/deletedItems/microsoft\.graph\.user", deleted_answer)


def writes(fake):
    return [(r.method, r.path) for r in fake.writes()]


def test_create_sends_the_user_then_the_licence_then_the_manager(fake, run_module, m365_args):
    tenant(fake, users=[SARAH])
    fake.graph("POST", "users", (201, dict(jane(), assignedLicenses=[], manager=None)))
    fake.graph("POST", r"users/%s/assignLicense" % JANE_ID, (200, jane()))
    fake.graph("PUT", r"users/%s/manager/\$ref" % JANE_ID, (204, None))

    result = run_module(m365_user, dict(m365_args, **JANE_OPTIONS))

    assert result["changed"] is True and result["action"] == "create"
    assert writes(fake) == [("POST", "/v1.0/users"), ("POST", "/v1.0/users/%s/assignLicense" % JANE_ID),
                            ("PUT", "/v1.0/users/%s/manager/$ref" % JANE_ID)]
    create, licence, manager = fake.writes()
    body = create.json
    assert sorted(body) == ["accountEnabled", "department", "displayName", "givenName", "jobTitle", "mailNickname", "mobilePhone",
                            "passwordProfile", "surname", "usageLocation", "userPrincipalName"]
    assert body["userPrincipalName"] == UPN and body["accountEnabled"] is True and body["displayName"] == "Jane Citizen"
    assert body["mobilePhone"] == "+61412345678" and body["mailNickname"] == "jane.citizen"
    assert body["passwordProfile"]["forceChangePasswordNextSignIn"] is True and len(body["passwordProfile"]["password"]) == 20
    assert create.headers["Authorization"] == "Bearer m365-token-for-graph.microsoft.com"
    assert licence.json == {"addLicenses": [{"skuId": PREMIUM, "disabledPlans": []}], "removeLicenses": []}
    assert manager.json == {"@odata.id": "https://graph.microsoft.com/v1.0/users/%s" % SARAH_ID}
    assert [c["op"] for c in result["plan"]] == ["create", "licenses", "manager"]
    assert result["user"]["id"] == JANE_ID and result["user"]["licenses"] == ["O365_BUSINESS_PREMIUM"]
    assert result["user"]["manager"] == "sarah.jones@northwindacct.com"
    assert result["licenses_added"] == ["O365_BUSINESS_PREMIUM"] and result["licenses_removed"] == []
    # The person is read with her manager in the same call, by UPN; the generated password is never printed.
    jane_read = [r for r in fake.sent("graph") if r.method == "GET" and UPN in r.filter][0]
    assert jane_read.query["$expand"] == "manager($select=id,userPrincipalName)"
    assert jane_read.filter == "userPrincipalName in ('%s')" % UPN
    assert "password" not in result
    assert body["passwordProfile"]["password"] not in run_module.output
    assert result["graph_requests"] == len(fake.sent("graph"))


def test_rerun_at_the_desired_state_changes_nothing_and_writes_nothing(fake, run_module, m365_args):
    tenant(fake, users=[jane(), SARAH])

    result = run_module(m365_user, dict(m365_args, **JANE_OPTIONS))

    assert result["changed"] is False and result["action"] == "none" and result["plan"] == []
    assert fake.writes() == []
    assert result["user"]["jobTitle"] == "Accountant" and result["user"]["licenses"] == ["O365_BUSINESS_PREMIUM"]
    # An existing user is not looked for among the deleted ones.
    assert not [r for r in fake.requests if "deletedItems" in r.path]


def test_check_mode_plans_the_create_and_sends_only_reads(fake, run_module, m365_args):
    tenant(fake, users=[SARAH])

    result = run_module(m365_user, dict(m365_args, **JANE_OPTIONS), check_mode=True)

    assert result["changed"] is True and result["action"] == "create"
    assert [(c["op"], c["method"], c["path"]) for c in result["plan"]] == [
        ("create", "POST", "/users"), ("licenses", "POST", "/users/{id}/assignLicense"), ("manager", "PUT", "/users/{id}/manager/$ref")]
    assert "passwordProfile" in result["plan"][0]["fields"]
    assert fake.writes() == [] and {r.method for r in fake.requests} == {"GET"}
    assert "password" not in result


def test_diff_shows_before_and_after_and_only_what_differs_is_patched(fake, run_module, m365_args):
    tenant(fake, users=[jane(), SARAH])
    fake.graph("PATCH", "users/%s" % JANE_ID, (204, None))

    options = dict(JANE_OPTIONS, job_title="Senior Accountant", department="Audit")
    result = run_module(m365_user, dict(m365_args, **options), diff=True)

    assert result["changed"] is True and result["action"] == "update"
    assert writes(fake) == [("PATCH", "/v1.0/users/%s" % JANE_ID)]
    assert fake.writes()[0].json == {"jobTitle": "Senior Accountant", "department": "Audit"}
    assert result["diff"]["before"]["jobTitle"] == "Accountant" and result["diff"]["after"]["jobTitle"] == "Senior Accountant"
    assert result["diff"]["before"]["department"] == "Tax" and result["diff"]["after"]["department"] == "Audit"
    assert result["diff"]["before"]["manager"] == result["diff"]["after"]["manager"] == "sarah.jones@northwindacct.com"


def test_a_soft_deleted_user_is_restored_instead_of_created(fake, run_module, m365_args):
    deleted_id = "5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d"
    gone = dict(jane(), id=deleted_id, userPrincipalName=deleted_id.replace("-", "") + UPN, deletedDateTime="2024-04-30T10:00:00Z")
    tenant(fake, users=[SARAH], deleted=[gone])
    fake.graph("POST", r"directory/deletedItems/%s/restore" % deleted_id, (200, dict(gone, userPrincipalName=UPN)))

    result = run_module(m365_user, dict(m365_args, user=UPN, job_title="Accountant"))

    assert result["changed"] is True and result["action"] == "restore"
    assert writes(fake) == [("POST", "/v1.0/directory/deletedItems/%s/restore" % deleted_id)]
    assert result["user"]["id"] == deleted_id and result["user"]["userPrincipalName"] == UPN


def test_graph_403_names_the_permission_the_call_needs(fake, run_module, m365_args):
    tenant(fake, users=[jane(), SARAH])
    fake.graph("PATCH", "users/%s" % JANE_ID, fake.graph_error(403, "Authorization_RequestDenied",
                                                               "Insufficient privileges to complete the operation."))

    result = run_module(m365_user, dict(m365_args, user=UPN, department="Audit"))

    assert result["failed"] is True and result["changed"] is False  # the refused PATCH was its first write
    assert result["msg"].startswith("Insufficient privileges to complete the operation. The application lacks a Microsoft Graph "
                                    "permission for PATCH users/%s (any one of: User.ReadWrite.All, Directory.ReadWrite.All)" % JANE_ID)
    assert result["error_code"] == "Authorization_RequestDenied" and result["status"] == 403
    assert result["request_id"] == "7c1f0d2e-4b5a-4c3d-9e8f-0a1b2c3d4e5f"
    assert writes(fake) == [("PATCH", "/v1.0/users/%s" % JANE_ID)]


def test_an_unknown_manager_fails_before_any_write(fake, run_module, m365_args):
    tenant(fake, users=[jane()])

    result = run_module(m365_user, dict(m365_args, user=UPN, manager="nobody@northwindacct.com"))

    assert result["failed"] is True and result["field"] == "manager"
    assert result["msg"] == "manager nobody@northwindacct.com is not a user in this tenant."
    assert fake.writes() == []


def test_a_malformed_upn_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_user, dict(m365_args, user="jane citizen@northwindacct.com"))

    assert result["failed"] is True and result["field"] == "user"
    assert result["msg"] == ("user 'jane citizen@northwindacct.com' contains characters Microsoft 365 does not allow before the @ (' '); "
                             "use letters, digits and ' . - _ ! # ^ ~ only.")
    assert fake.requests == [] and fake.token_providers == []


def test_an_unverified_domain_is_refused_after_reading_the_domains_only(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_user, dict(m365_args, user="jane@northwind-legacy.com"))

    assert result["failed"] is True
    assert result["msg"] == ("The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for user. "
                             "Verify it first, or use one of: northwindacct.com, northwindacct.onmicrosoft.com.")
    assert fake.calls() == [("GET", "/v1.0/domains")]


def test_a_bad_removal_limit_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_user, dict(m365_args, user=UPN, licenses={"set": []}, max_removals="all"))

    assert result["failed"] is True and result["field"] == "max_removals"
    assert result["msg"] == "max_removals must be a number or a percentage such as 10%, not 'all'."
    assert fake.requests == []


def test_removals_above_max_removals_are_refused_before_any_write(fake, run_module, m365_args):
    held = [{"disabledPlans": [], "skuId": s} for s in (PREMIUM, FLOW, EXCHANGE_STD)]
    tenant(fake, users=[jane(assignedLicenses=held)])

    result = run_module(m365_user, dict(m365_args, user=UPN, licenses={"set": ["FLOW_FREE"]}, max_removals=1, allow_mail_loss=True))

    assert result["failed"] is True and result["field"] == "max_removals"
    assert result["removal_limit"] == 1 and sorted(result["refused_removals"]) == ["EXCHANGESTANDARD", "O365_BUSINESS_PREMIUM"]
    assert result["msg"] == ("Refusing to remove 2 licences from jane.citizen@northwindacct.com, more than max_removals (1): "
                             "EXCHANGESTANDARD, O365_BUSINESS_PREMIUM. List them to keep them, or raise max_removals if this is intended.")
    assert fake.writes() == []


def test_the_last_licence_of_a_regular_mailbox_is_refused_after_an_exchange_read(fake, run_module, m365_args):
    tenant(fake, users=[jane()])
    fake.exchange("Get-Mailbox", fake.exo([{"ExternalDirectoryObjectId": JANE_ID, "UserPrincipalName": UPN, "PrimarySmtpAddress": UPN,
                                            "RecipientTypeDetails": "UserMailbox", "EmailAddresses": ["SMTP:" + UPN]}]))

    result = run_module(m365_user, dict(m365_args, user=UPN, licenses={"set": []}))

    assert result["failed"] is True and result["field"] == "licenses"
    assert result["msg"].startswith("jane.citizen@northwindacct.com has a regular user mailbox in Exchange Online")
    exchange = fake.sent("exchange")
    assert [r.cmdlet for r in exchange] == ["Get-Mailbox"] and exchange[0].parameters == {"Identity": JANE_ID}
    assert exchange[0].headers["Authorization"] == "Bearer m365-token-for-outlook.office365.com"
    assert result["exchange_requests"] == 1
    assert fake.writes() == []


def test_return_password_without_no_log_fails_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_user, dict(m365_args, user=UPN, return_password=True))

    assert result["failed"] is True and result["field"] == "return_password"
    assert result["msg"].startswith("return_password: true returns each new user's generated password, so set no_log: true")
    assert fake.requests == []


def test_secrets_never_reach_the_output(fake, run_module, m365_args):
    tenant(fake, users=[SARAH])
    fake.graph("POST", "users", (201, dict(jane(), assignedLicenses=[], manager=None)))
    password = "Xk9!mQ2#vL7p-Welcome"

    result = run_module(m365_user, dict(m365_args, user=UPN, display_name="Jane Citizen", password=password), diff=True)

    assert result["changed"] is True
    assert fake.writes()[0].json["passwordProfile"]["password"] == password
    assert fake.token_providers[0].kwargs["client_secret"] == m365_args["client_secret"]
    assert password not in run_module.output
    assert m365_args["client_secret"] not in run_module.output


def test_return_password_with_no_log_returns_the_generated_password(fake, run_module, m365_args):
    tenant(fake, users=[SARAH])
    fake.graph("POST", "users", (201, dict(jane(), assignedLicenses=[], manager=None)))

    result = run_module(m365_user, dict(m365_args, user=UPN, return_password=True), no_log=True)

    assert result["changed"] is True
    assert result["password"] == fake.writes()[0].json["passwordProfile"]["password"]
    assert m365_args["client_secret"] not in run_module.output


def test_many_joiners_are_created_inside_graph_batches(fake, run_module, m365_args):
    tenant(fake)
    ids = {"jane.citizen@northwindacct.com": JANE_ID, "tom.baker@northwindacct.com": TOM_ID}
    fake.graph("POST", "users", lambda request: (201, {"id": ids[request.json["userPrincipalName"]],
                                                       "userPrincipalName": request.json["userPrincipalName"]}))

    result = run_module(m365_user, dict(m365_args, items=[{"user": UPN, "given_name": "Jane"}, {"user": "tom.baker@northwindacct.com"}]))

    assert result["changed"] is True and result["failed_items"] == []
    assert sorted(result["outcomes"]) == sorted(ids)
    assert result["outcomes"]["tom.baker@northwindacct.com"]["user"]["id"] == TOM_ID
    created = fake.writes()
    assert sorted(r.json["userPrincipalName"] for r in created) == sorted(ids)
    assert all(r.batched and r.method == "POST" and r.path == "/v1.0/users" for r in created)
    # The envelopes are not writes of their own; every create went inside one.
    assert [r for r in fake.requests if r.is_batch] and result["graph_batched_calls"] == 2
    # Everyone was read with one list query, before any write.
    reads = [r for r in fake.sent("graph") if r.path == "/v1.0/users" and r.method == "GET"]
    assert len(reads) == 1 and sorted(fake.in_values(reads[0].filter)) == sorted(ids)


def test_a_create_graph_throttles_inside_a_batch_is_sent_again_after_its_retry_after(fake, run_module, m365_args):
    tenant(fake)
    attempts = []

    def create(request):
        upn = request.json["userPrincipalName"]
        attempts.append(upn)
        if upn == UPN and attempts.count(UPN) == 1:
            status, body, headers = fake.graph_error(429, "TooManyRequests", "Application is over its request limit.")
            return status, body, dict(headers, **{"Retry-After": "2"})
        return 201, {"id": JANE_ID if upn == UPN else TOM_ID, "userPrincipalName": upn}
    fake.graph("POST", "users", create)

    result = run_module(m365_user, dict(m365_args, items=[{"user": UPN}, {"user": "tom.baker@northwindacct.com"}]))

    assert result["changed"] is True and result["failed_items"] == []
    assert attempts.count(UPN) == 2 and attempts.count("tom.baker@northwindacct.com") == 1
    assert all(r.batched for r in fake.writes())
    assert result["outcomes"][UPN]["user"]["id"] == JANE_ID
    assert result["retries"] == 1 and 2.0 in fake.clock.sleeps


def test_one_failing_person_does_not_stop_the_others(fake, run_module, m365_args):
    tenant(fake)
    fake.graph("POST", "users", lambda request: (201, {"id": TOM_ID, "userPrincipalName": request.json["userPrincipalName"]}))

    result = run_module(m365_user, dict(m365_args, fail_on_item_error=False, workers=1,
                                        items=[{"user": "tom.baker@northwindacct.com"},
                                               {"user": UPN, "usage_location": "AU", "licenses": {"add": ["ENTERPRISEPACK"]}}]))

    assert result["changed"] is True and result["failed_items"] == [UPN]
    assert result["outcomes"][UPN]["msg"].startswith("No free seat on ENTERPRISEPACK: 2 bought, 2 in use.")
    assert result["outcomes"]["tom.baker@northwindacct.com"]["action"] == "create"
    assert [r.json["userPrincipalName"] for r in fake.writes()] == ["tom.baker@northwindacct.com"]
    assert not [r for r in fake.requests if r.is_batch]


def test_a_failure_after_the_account_was_created_still_reports_the_change(fake, run_module, m365_args):
    tenant(fake, users=[SARAH])
    fake.graph("POST", "users", (201, dict(jane(), assignedLicenses=[], manager=None)))
    fake.graph("POST", r"users/%s/assignLicense" % JANE_ID, fake.graph_error(403, "Authorization_RequestDenied",
                                                                             "Insufficient privileges to complete the operation."))

    result = run_module(m365_user, dict(m365_args, items=[dict(JANE_OPTIONS)], fail_on_item_error=False))

    assert writes(fake)[0] == ("POST", "/v1.0/users") and result["failed_items"] == [UPN]
    assert result["changed"] is True
