# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _roles
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError, close_matches

GA = "62e90394-69f5-4237-9190-012177145e10"
EA = "29232cdf-9323-42fd-ade2-1d097af3e4de"
ERA = "31392ffb-586c-42d1-9346-e59415a2cc4e"
GR = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
UA = "fe930be7-5e62-47db-91af-98c3a49a38b1"
BSTD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
DEFINITIONS = [
    {"id": GA, "templateId": GA, "displayName": "Global Administrator"},
    {"id": EA, "templateId": EA, "displayName": "Exchange Administrator"},
    {"id": ERA, "templateId": ERA, "displayName": "Exchange Recipient Administrator"},
    {"id": GR, "templateId": GR, "displayName": "Global Reader"},
    {"id": UA, "templateId": UA, "displayName": "User Administrator"},
]
SKUS = [{"skuId": BSTD, "skuPartNumber": "O365_BUSINESS_PREMIUM", "consumedUnits": 3, "prepaidUnits": {"enabled": 25}}]
UID = "5d1e0c6a-3f7b-4a2e-9c8d-1b2a3c4d5e6f"
UPN = "practiceprotect@northwindacct.onmicrosoft.com"


def assignment(role_id, principal=UID, scope="/"):
    return {"id": "%s-%s" % (role_id[:8], principal[:8]), "principalId": principal, "roleDefinitionId": role_id, "directoryScopeId": scope}


def spec(**params):
    base = dict(name="practiceprotect", state="present", purpose="mail_redirection", roles=None, max_removals=3,
                federation_enabled=False, force=False, rotate_password=False, return_password=False, force_change_password=True)
    base.update(params)
    return _roles.service_account_spec(base)


def wanted(add=(), remove=(), set=None):
    return {"add": list(add), "remove": list(remove), "set": set}


def account(**props):
    user = {"id": UID, "userPrincipalName": UPN, "displayName": "Practice Protect", "givenName": "Practice", "surname": "Protect",
            "mailNickname": "practiceprotect", "accountEnabled": True, "assignedLicenses": []}
    user.update(props)
    return user


# -- role names -----------------------------------------------------------------------------------------------------

def test_resolve_roles_by_name_any_case_and_by_template_id_without_duplicates():
    found = _roles.resolve_roles(["exchange administrator", GA, "Global Administrator", EA.upper()], DEFINITIONS)
    assert [d["displayName"] for d in found] == ["Exchange Administrator", "Global Administrator"]


def test_unknown_role_names_suggest_close_matches():
    with pytest.raises(ValidationError) as err:
        _roles.resolve_roles(["Exchange Admin", "Global Administrator", "Helpdesk Wizard"], DEFINITIONS)
    assert err.value.message == (
        "Unknown directory role: 'Exchange Admin' is not a directory role in this tenant (did you mean Exchange Administrator or "
        "Exchange Recipient Administrator?); 'Helpdesk Wizard' is not a directory role in this tenant (no role has a similar name). "
        "Give roles by display name (for example Exchange Administrator) or by template id.")
    assert err.value.field == "roles"


def test_unknown_role_id_is_named():
    missing = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(ValidationError) as err:
        _roles.resolve_roles([missing], DEFINITIONS)
    assert "%s is not the id or template id of a directory role in this tenant" % missing in err.value.message


def test_close_matches_include_names_containing_the_text():
    names = [d["displayName"] for d in DEFINITIONS]
    assert close_matches("global", names, containing=True) == ["Global Reader", "Global Administrator"]  # most similar first
    assert close_matches("Global Admin", names, containing=True)[0] == "Global Administrator"


# -- role plan ------------------------------------------------------------------------------------------------------

def test_plan_adds_missing_roles_for_a_principal_not_created_yet():
    plan = _roles.plan_roles(wanted(add=[DEFINITIONS[1]]), [], DEFINITIONS)
    (call,) = plan["calls"]
    assert call["method"] == "POST" and call["path"] == "roleManagement/directory/roleAssignments"
    assert call["body"] == {"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": EA, "principalId": "{id}",
                            "directoryScopeId": "/"}
    assert plan["added"] == ["Exchange Administrator"] and plan["before"] == [] and plan["after"] == ["Exchange Administrator"]


def test_plan_is_empty_when_the_roles_are_held():
    plan = _roles.plan_roles(wanted(set=[DEFINITIONS[1]]), [assignment(EA)], DEFINITIONS, UID)
    assert plan["calls"] == [] and plan["after"] == ["Exchange Administrator"]


def test_a_scoped_assignment_does_not_count_as_tenant_wide():
    plan = _roles.plan_roles(wanted(add=[DEFINITIONS[1]]), [assignment(EA, scope="/administrativeUnits/x")], DEFINITIONS, UID)
    assert [c["op"] for c in plan["calls"]] == ["role_add"]


def test_add_keeps_the_others_set_removes_the_unlisted_and_remove_takes_the_listed():
    held = [assignment(EA), assignment(GR)]
    additive = _roles.plan_roles(wanted(add=[DEFINITIONS[1]]), held, DEFINITIONS, UID)
    assert additive["calls"] == [] and additive["after"] == ["Exchange Administrator", "Global Reader"]
    exact = _roles.plan_roles(wanted(set=[DEFINITIONS[1]]), held, DEFINITIONS, UID)
    (call,) = exact["calls"]
    assert call["method"] == "DELETE" and call["path"] == "roleManagement/directory/roleAssignments/" + assignment(GR)["id"]
    assert exact["removed"] == ["Global Reader"] and exact["after"] == ["Exchange Administrator"]
    taken = _roles.plan_roles(wanted(remove=[DEFINITIONS[1]]), held, DEFINITIONS, UID)
    assert taken["removed"] == ["Exchange Administrator"] and taken["after"] == ["Global Reader"]


def test_max_removals_refuses_before_any_write():
    held = [assignment(EA), assignment(GR), assignment(UA)]
    with pytest.raises(ValidationError) as err:
        _roles.plan_roles(wanted(set=[]), held, DEFINITIONS, UID, max_removals=2, who=UPN)
    assert err.value.message == (
        "Refusing to remove 3 directory role assignments from %s, more than max_removals (2): Exchange Administrator, Global Reader, "
        "User Administrator. List them to keep them, or raise max_removals if this is intended." % UPN)
    assert len(_roles.plan_roles(wanted(set=[]), held, DEFINITIONS, UID, max_removals=3)["calls"]) == 3
    assert len(_roles.plan_roles(wanted(set=[]), held, DEFINITIONS, UID, max_removals="100%")["calls"]) == 3


def test_public_calls_show_roles_but_no_values():
    plan = _roles.plan_roles(wanted(set=[DEFINITIONS[0]]), [assignment(EA)], DEFINITIONS, UID)
    assert _roles.public_calls(plan["calls"]) == [
        {"op": "role_add", "method": "POST", "path": "/roleManagement/directory/roleAssignments",
         "fields": ["directoryScopeId", "principalId", "roleDefinitionId"], "role": "Global Administrator"},
        {"op": "role_remove", "method": "DELETE", "path": "/roleManagement/directory/roleAssignments/" + assignment(EA)["id"], "fields": [],
         "role": "Exchange Administrator"}]


# -- service account spec ---------------------------------------------------------------------------------------------

def test_spec_defaults_and_a_purpose_is_exactly_its_role():
    s = spec()
    assert (s["name"], s["display_name"], s["given_name"], s["surname"], s["domain"]) == (
        "practiceprotect", "Practice Protect", "Practice", "Protect", None)
    assert _roles.wanted_roles(s, DEFINITIONS) == {"add": [], "remove": [], "set": [DEFINITIONS[1]]}
    explicit = _roles.wanted_roles(spec(purpose=None, roles={"add": ["global reader"]}), DEFINITIONS)
    assert explicit["set"] is None and [d["displayName"] for d in explicit["add"]] == ["Global Reader"]


@pytest.mark.parametrize("params, message", [
    (dict(name="practice protect"), "name 'practice protect' is not a valid sign-in name"),
    (dict(name=".pp"), "name '.pp' is not a valid sign-in name"),
    (dict(domain="not a domain"), "Domain 'not a domain' is not a valid DNS domain name."),
    (dict(purpose=None), "Give purpose (federation or mail_redirection) or an explicit roles list for the service account."),
    (dict(display_name=" "), "display_name is empty; leave it out to use the default."),
    (dict(max_removals=-1), "max_removals must be 0 or more."),
    (dict(purpose=None, roles={}), "roles is empty; give add, remove or set"),
    (dict(purpose=None, roles=["Global Reader"]), "roles takes add, remove or set"),
])
def test_spec_refuses_bad_input(params, message):
    with pytest.raises(ValidationError) as err:
        spec(**params)
    assert err.value.message.startswith(message)


def test_absent_needs_no_purpose():
    assert spec(state="absent", purpose=None)["state"] == "absent"


def test_initial_domain():
    domains = [{"id": "northwindacct.com", "isInitial": False}, {"id": "NorthwindAcct.onmicrosoft.com", "isInitial": True}]
    assert _roles.initial_domain(domains) == "northwindacct.onmicrosoft.com"
    with pytest.raises(ValidationError):
        _roles.initial_domain(domains[:1])


# -- the service account plan ----------------------------------------------------------------------------------------------

def test_create_plan_creates_unlicensed_account_then_assigns_the_purpose_role():
    plan = _roles.plan_service_account(spec(purpose="federation"), UPN, None, [], DEFINITIONS, [])
    assert plan["action"] == "create" and [c["op"] for c in plan["calls"]] == ["create", "role_add"]
    body = plan["calls"][0]["body"]
    assert body["userPrincipalName"] == UPN and body["displayName"] == "Practice Protect" and body["givenName"] == "Practice"
    assert body["surname"] == "Protect" and body["mailNickname"] == "practiceprotect" and body["accountEnabled"] is True
    assert body["passwordProfile"]["password"] == plan["password"] and len(plan["password"]) == 20 and plan["password_set"]
    assert plan["calls"][1]["body"]["roleDefinitionId"] == GA
    assert plan["after"]["roles"] == ["Global Administrator"] and plan["after"]["licenses"] == [] and plan["before"] == {}
    shown = repr(_roles.service_account_public_plan(plan)) + repr(plan["after"])
    assert plan["password"] not in shown


def test_converged_account_needs_no_call():
    plan = _roles.plan_service_account(spec(), UPN, account(), [assignment(EA)], DEFINITIONS, [])
    assert plan["calls"] == [] and plan["action"] == "none" and not plan["changed"] and not plan["password_set"]


def test_switching_purpose_adds_the_new_role_and_removes_the_old():
    plan = _roles.plan_service_account(spec(purpose="federation"), UPN, account(), [assignment(EA)], DEFINITIONS, [])
    assert [(c["op"], c["role"]) for c in plan["calls"]] == [("role_add", "Global Administrator"), ("role_remove", "Exchange Administrator")]
    assert plan["action"] == "update" and plan["roles_added"] == ["Global Administrator"] and plan["roles_removed"] == ["Exchange Administrator"]
    assert plan["calls"][0]["body"]["principalId"] == UID


def test_removing_global_administrator_is_refused_while_federation_is_on():
    with pytest.raises(ValidationError) as err:
        _roles.plan_service_account(spec(purpose="mail_redirection", federation_enabled=True), UPN, account(), [assignment(GA)], DEFINITIONS, [])
    assert err.value.message.startswith("Refusing to remove Global Administrator from %s: federation_enabled is true" % UPN)
    forced = _roles.plan_service_account(spec(purpose="mail_redirection", federation_enabled=True, force=True), UPN, account(),
                                         [assignment(GA)], DEFINITIONS, [])
    assert forced["roles_removed"] == ["Global Administrator"]


def test_a_licence_found_is_removed():
    plan = _roles.plan_service_account(spec(), UPN, account(assignedLicenses=[{"skuId": BSTD, "disabledPlans": []}]), [assignment(EA)],
                                       DEFINITIONS, SKUS)
    (call,) = plan["calls"]
    assert call["path"] == "users/%s/assignLicense" % UID and call["body"] == {"addLicenses": [], "removeLicenses": [BSTD]}
    assert plan["licenses_removed"] == ["O365_BUSINESS_PREMIUM"] and plan["before"]["licenses"] == ["O365_BUSINESS_PREMIUM"]
    assert plan["after"]["licenses"] == []


def test_drifted_names_are_set_back():
    plan = _roles.plan_service_account(spec(), UPN, account(displayName="PP svc", accountEnabled=False), [assignment(EA)], DEFINITIONS, [])
    (call,) = plan["calls"]
    assert call["method"] == "PATCH" and call["body"] == {"displayName": "Practice Protect", "accountEnabled": True}


def test_rotation_sets_the_given_password():
    plan = _roles.plan_service_account(spec(rotate_password=True), UPN, account(), [assignment(EA)], DEFINITIONS, [], password="N3w-Passw0rd!xx")
    (call,) = plan["calls"]
    assert call["method"] == "PATCH" and call["fields"] == ["passwordProfile"]
    assert call["body"]["passwordProfile"] == {"password": "N3w-Passw0rd!xx", "forceChangePasswordNextSignIn": True}
    assert plan["password_set"] and plan["password"] == "N3w-Passw0rd!xx"


def test_absent_removes_roles_first_then_the_account():
    plan = _roles.plan_service_account(spec(state="absent", purpose=None), UPN, account(), [assignment(EA), assignment(GR)], DEFINITIONS, [])
    assert [(c["op"], c["method"]) for c in plan["calls"]] == [("role_remove", "DELETE"), ("role_remove", "DELETE"), ("delete", "DELETE")]
    assert plan["calls"][-1]["path"] == "users/" + UID
    assert [c["op"] for c in _roles.service_account_public_plan(plan)] == ["role_remove", "role_remove", "delete"]
    assert plan["action"] == "delete" and plan["after"] == {} and plan["before"]["roles"] == ["Exchange Administrator", "Global Reader"]


def test_absent_without_an_account_does_nothing_even_under_federation():
    plan = _roles.plan_service_account(spec(state="absent", purpose="federation"), UPN, None, [], DEFINITIONS, [])
    assert plan["calls"] == [] and plan["action"] == "none"


@pytest.mark.parametrize("params, reason", [
    (dict(purpose="federation"), "purpose: federation"),
    (dict(purpose=None, federation_enabled=True), "federation_enabled: true"),
])
def test_absent_is_refused_while_the_account_serves_federation(params, reason):
    with pytest.raises(ValidationError) as err:
        _roles.plan_service_account(spec(state="absent", **params), UPN, account(), [assignment(GA)], DEFINITIONS, [])
    assert err.value.message == (
        "Refusing to remove %s: it serves Practice Protect's Office 365 federation (%s), and sign-in through Practice Protect stops "
        "working without it. Turn federation off in Practice Protect first, then run again with federation_enabled: false and without "
        "purpose: federation; or set force: true to remove it anyway." % (UPN, reason))
    forced = _roles.plan_service_account(spec(state="absent", force=True, **params), UPN, account(), [assignment(GA)], DEFINITIONS, [])
    assert [c["op"] for c in forced["calls"]] == ["role_remove", "delete"]


def test_explicit_roles_resolve_names_before_planning():
    with pytest.raises(ValidationError, match="Unknown directory role: .Exchange Admin. is not"):
        _roles.plan_service_account(spec(purpose=None, roles={"add": ["Exchange Admin"]}), UPN, None, [], DEFINITIONS, [])
    plan = _roles.plan_service_account(spec(purpose=None, roles={"add": ["exchange administrator", "Global Reader"]}), UPN, account(),
                                       [assignment(EA), assignment(UA)], DEFINITIONS, [])
    assert [c["role"] for c in plan["calls"]] == ["Global Reader"]  # additive: User Administrator stays
    assert plan["roles_after"] == ["Exchange Administrator", "Global Reader", "User Administrator"]
