# -*- coding: utf-8 -*-
"""service_account's main() against canned Microsoft Graph answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import service_account

UPN = "practiceprotect@northwindacct.onmicrosoft.com"
ACCOUNT_ID = "3c5e7a9b-1d2f-4b4a-8c6e-0f1a2b3c4d5e"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
DOMAINS = [{"id": "northwindacct.com", "isDefault": True, "isInitial": False, "isVerified": True},
           {"id": "NorthwindAcct.onmicrosoft.com", "isDefault": False, "isInitial": True, "isVerified": True}]
DEFINITIONS = [{"id": GLOBAL_ADMIN, "templateId": GLOBAL_ADMIN, "displayName": "Global Administrator", "isBuiltIn": True, "isEnabled": True},
               {"id": EXCHANGE_ADMIN, "templateId": EXCHANGE_ADMIN, "displayName": "Exchange Administrator", "isBuiltIn": True, "isEnabled": True},
               {"id": GLOBAL_READER, "templateId": GLOBAL_READER, "displayName": "Global Reader", "isBuiltIn": True, "isEnabled": True}]


def account(**changes):
    user = {"id": ACCOUNT_ID, "userPrincipalName": UPN, "mail": None, "displayName": "Practice Protect", "givenName": "Practice",
            "surname": "Protect", "mailNickname": "practiceprotect", "accountEnabled": True, "assignedLicenses": [], "usageLocation": None,
            "businessPhones": [], "otherMails": [], "signInSessionsValidFromDateTime": "2024-02-01T00:00:00Z",
            "lastPasswordChangeDateTime": "2024-02-01T00:00:00Z"}
    user.update(changes)
    return user


def assignment(role_id, assignment_id):
    return {"id": assignment_id, "principalId": ACCOUNT_ID, "roleDefinitionId": role_id, "directoryScopeId": "/"}


def tenant(fake, users=(), assignments=()):
    fake.graph("GET", "domains", fake.page(DOMAINS, context="domains"))
    fake.graph("GET", "roleManagement/directory/roleDefinitions", fake.page(DEFINITIONS, context="roleManagement/directory/roleDefinitions"))
    fake.graph("GET", "users", fake.users_by_key(list(users)))
    fake.graph("GET", "subscribedSkus", fake.page([{"skuId": PREMIUM, "skuPartNumber": "O365_BUSINESS_PREMIUM", "consumedUnits": 7,
                                                    "prepaidUnits": {"enabled": 10, "suspended": 0, "warning": 0}}], context="subscribedSkus"))

    def assignments_answer(request):
        assert request.filter == "principalId eq '%s'" % ACCOUNT_ID
        return fake.page(list(assignments), context="roleManagement/directory/roleAssignments")
    fake.graph("GET", "roleManagement/directory/roleAssignments", assignments_answer)


def test_create_for_mail_redirection_makes_the_account_then_its_role(fake, run_module, m365_args):
    tenant(fake)
    fake.graph("POST", "users", (201, account()))
    fake.graph("POST", "roleManagement/directory/roleAssignments", (201, assignment(EXCHANGE_ADMIN, "lAPpYvVpN0KRkAEhdxReENKMGeT8p5BPi9FaQY5gKpc-1")))

    result = run_module(service_account, dict(m365_args, purpose="mail_redirection"))

    assert result["changed"] is True and result["action"] == "create" and result["user_principal_name"] == UPN
    create, role = fake.writes()
    assert (create.method, create.path) == ("POST", "/v1.0/users")
    assert sorted(create.json) == ["accountEnabled", "displayName", "givenName", "mailNickname", "passwordProfile", "surname",
                                   "userPrincipalName"]
    assert create.json["userPrincipalName"] == UPN and create.json["displayName"] == "Practice Protect"
    assert create.json["accountEnabled"] is True and create.json["passwordProfile"]["forceChangePasswordNextSignIn"] is True
    assert (role.method, role.path) == ("POST", "/v1.0/roleManagement/directory/roleAssignments")
    assert role.json == {"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": EXCHANGE_ADMIN, "principalId": ACCOUNT_ID,
                         "directoryScopeId": "/"}
    assert result["roles"] == ["Exchange Administrator"] and result["roles_added"] == ["Exchange Administrator"]
    assert result["password_set"] is True and "password" not in result
    assert create.json["passwordProfile"]["password"] not in run_module.output
    assert m365_args["client_secret"] not in run_module.output


def test_an_account_as_asked_changes_nothing(fake, run_module, m365_args):
    tenant(fake, users=[account()], assignments=[assignment(EXCHANGE_ADMIN, "a-1")])

    result = run_module(service_account, dict(m365_args, purpose="mail_redirection"))

    assert result["changed"] is False and result["action"] == "none" and result["plan"] == []
    assert fake.writes() == [] and result["roles"] == ["Exchange Administrator"]


def test_check_mode_plans_without_writing(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(service_account, dict(m365_args, purpose="federation"), check_mode=True)

    assert result["changed"] is True and result["action"] == "create"
    assert [(c["op"], c["method"], c["path"]) for c in result["plan"]] == [
        ("create", "POST", "/users"), ("role_add", "POST", "/roleManagement/directory/roleAssignments")]
    assert result["plan"][1]["role"] == "Global Administrator"
    assert fake.writes() == [] and {r.method for r in fake.requests} == {"GET"}


def test_switching_purpose_adds_one_role_removes_the_other_and_diff_shows_it(fake, run_module, m365_args):
    tenant(fake, users=[account()], assignments=[assignment(EXCHANGE_ADMIN, "a-exchange")])
    fake.graph("POST", "roleManagement/directory/roleAssignments", (201, assignment(GLOBAL_ADMIN, "a-global")))
    fake.graph("DELETE", "roleManagement/directory/roleAssignments/a-exchange", (204, None))

    result = run_module(service_account, dict(m365_args, purpose="federation"), diff=True)

    assert result["changed"] is True and result["action"] == "update"
    assert [(r.method, r.path) for r in fake.writes()] == [("POST", "/v1.0/roleManagement/directory/roleAssignments"),
                                                           ("DELETE", "/v1.0/roleManagement/directory/roleAssignments/a-exchange")]
    assert fake.writes()[0].json["roleDefinitionId"] == GLOBAL_ADMIN and fake.writes()[0].json["principalId"] == ACCOUNT_ID
    assert result["diff"]["before"]["roles"] == ["Exchange Administrator"] and result["diff"]["after"]["roles"] == ["Global Administrator"]
    assert result["roles_removed"] == ["Exchange Administrator"]


def test_a_licence_on_the_account_is_removed_with_a_warning(fake, run_module, m365_args):
    tenant(fake, users=[account(assignedLicenses=[{"disabledPlans": [], "skuId": PREMIUM}], usageLocation="AU")],
           assignments=[assignment(EXCHANGE_ADMIN, "a-1")])
    fake.graph("POST", "users/%s/assignLicense" % ACCOUNT_ID, (200, account()))

    result = run_module(service_account, dict(m365_args, purpose="mail_redirection"))

    assert result["licenses_removed"] == ["O365_BUSINESS_PREMIUM"]
    assert [(r.path, r.json) for r in fake.writes()] == [("/v1.0/users/%s/assignLicense" % ACCOUNT_ID,
                                                          {"addLicenses": [], "removeLicenses": [PREMIUM]})]
    assert run_module.warnings(result) == ["The service account %s held licence(s) O365_BUSINESS_PREMIUM; they were removed, because it "
                                           "must stay unlicensed." % UPN]


def test_refused_password_rotation_of_an_admin_says_what_the_app_needs(fake, run_module, m365_args):
    tenant(fake, users=[account()], assignments=[assignment(GLOBAL_ADMIN, "a-global")])
    fake.graph("PATCH", "users/%s" % ACCOUNT_ID, fake.graph_error(403, "Authorization_RequestDenied",
                                                                  "Insufficient privileges to complete the operation."))

    result = run_module(service_account, dict(m365_args, purpose="federation", rotate_password=True))

    assert result["failed"] is True and result["status"] == 403 and result["method"] == "PATCH"
    assert result["msg"].startswith("Microsoft 365 refused to set the password or sign-in state of %s (Authorization_RequestDenied): the "
                                    "account holds an admin role (Global Administrator)" % UPN)
    assert "Privileged Authentication Administrator" in result["msg"]
    (patch,) = fake.writes()
    assert sorted(patch.json) == ["passwordProfile"]
    assert patch.json["passwordProfile"]["password"] not in run_module.output


def test_removing_a_federation_account_is_refused_without_force(fake, run_module, m365_args):
    tenant(fake, users=[account()], assignments=[assignment(GLOBAL_ADMIN, "a-global")])

    result = run_module(service_account, dict(m365_args, state="absent", federation_enabled=True))

    assert result["failed"] is True and result["field"] == "force"
    assert result["msg"].startswith("Refusing to remove %s: it serves Practice Protect's Office 365 federation (federation_enabled: true)" % UPN)
    assert fake.writes() == []


def test_absent_with_force_removes_the_roles_first_then_the_account(fake, run_module, m365_args):
    tenant(fake, users=[account()], assignments=[assignment(GLOBAL_ADMIN, "a-global")])
    fake.graph("DELETE", "roleManagement/directory/roleAssignments/a-global", (204, None))
    fake.graph("DELETE", "users/%s" % ACCOUNT_ID, (204, None))

    result = run_module(service_account, dict(m365_args, state="absent", federation_enabled=True, force=True))

    assert result["changed"] is True and result["action"] == "delete"
    assert [(r.method, r.path) for r in fake.writes()] == [("DELETE", "/v1.0/roleManagement/directory/roleAssignments/a-global"),
                                                           ("DELETE", "/v1.0/users/%s" % ACCOUNT_ID)]


def test_an_unknown_role_is_refused_before_the_account_is_read(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(service_account, dict(m365_args, roles={"add": ["Exchange Admin"]}))

    assert result["failed"] is True and result["field"] == "roles.add"
    assert result["msg"] == ("Unknown directory role: 'Exchange Admin' is not a directory role in this tenant (did you mean Exchange "
                             "Administrator?). Give roles by display name (for example Exchange Administrator) or by template id.")
    assert [r.path for r in fake.requests] == ["/v1.0/domains", "/v1.0/roleManagement/directory/roleDefinitions"]


def test_bad_input_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(service_account, dict(m365_args, name="practice protect", purpose="federation"))
    assert result["failed"] is True and result["field"] == "name"
    assert fake.requests == []

    result = run_module(service_account, dict(m365_args))
    assert result["failed"] is True and result["msg"] == ("Give purpose (federation or mail_redirection) or an explicit roles list for the "
                                                          "service account.")
    assert fake.requests == []

    result = run_module(service_account, dict(m365_args, purpose="federation", return_password=True))
    assert result["failed"] is True and result["field"] == "return_password"
    assert fake.requests == [] and m365_args["client_secret"] not in run_module.output


def test_return_password_with_no_log_returns_the_one_set(fake, run_module, m365_args):
    tenant(fake)
    fake.graph("POST", "users", (201, account()))
    fake.graph("POST", "roleManagement/directory/roleAssignments", (201, assignment(GLOBAL_ADMIN, "a-global")))

    result = run_module(service_account, dict(m365_args, purpose="federation", return_password=True), no_log=True)

    assert result["password"] == fake.writes()[0].json["passwordProfile"]["password"]
    assert m365_args["client_secret"] not in run_module.output
