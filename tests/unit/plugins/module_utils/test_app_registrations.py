# -*- coding: utf-8 -*-
"""The app registration plan (plugins/module_utils/_app_registrations.py): what it creates, grants, revokes and refuses."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _app_registrations as apps
from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

NOW = datetime.datetime(2026, 12, 1, 0, 0, 0)
ROLES = {"User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca", "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
         "Domain.ReadWrite.All": "7e05723c-0bb0-42da-be95-ae9f08a6e53c", "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
         "User.Read.All": "df021288-bdef-4463-88db-98f22de89214", "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96"}
GRAPH_SP = {"id": "graph-sp", "appId": apps.GRAPH_APP_ID, "appRoles": [{"allowedMemberTypes": ["Application"], "id": i, "value": n, "isEnabled": True}
                                                                       for n, i in ROLES.items()]}
APP = {"id": "app-1", "appId": "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b", "displayName": "Practice Protect", "keyCredentials": [],
       "requiredResourceAccess": [{"resourceAppId": apps.GRAPH_APP_ID, "resourceAccess": [{"id": ROLES[n], "type": "Role"} for n in apps.PERMISSIONS]}],
       "passwordCredentials": [{"displayName": apps.DEFAULT_SECRET_NAME, "endDateTime": "2027-06-01T00:00:00Z", "keyId": "k1"}]}
SP = {"id": "sp-1", "appId": APP["appId"]}


def spec(**params):
    return apps.registration_spec(params)


def granted(*names):
    return [{"id": "a-%s" % n, "resourceId": "graph-sp", "principalId": "sp-1", "appRoleId": ROLES[n]} for n in names]


def ops(plan):
    return [(c["op"], c.get("permission")) for c in plan["calls"]]


def test_a_new_registration_is_created_with_its_principal_grants_and_a_secret():
    plan = apps.plan_registration(spec(), None, None, GRAPH_SP, [], now=NOW)
    assert plan["action"] == "create"
    assert ops(plan) == [("create", None), ("service_principal", None)] + [("grant", n) for n in apps.PERMISSIONS] + [("add_secret", None)]
    create = plan["calls"][0]["body"]
    assert create["displayName"] == "Practice Protect" and create["signInAudience"] == "AzureADMyOrg"
    assert sorted(a["id"] for a in create["requiredResourceAccess"][0]["resourceAccess"]) == sorted(ROLES[n] for n in apps.PERMISSIONS)
    grant = plan["calls"][2]
    assert grant["path"] == "servicePrincipals/{sp}/appRoleAssignments" and grant["body"]["resourceId"] == "graph-sp"
    assert plan["calls"][-1]["body"]["passwordCredential"]["endDateTime"] == "2027-12-01T00:00:00Z"
    assert plan["secret_added"] and plan["permissions_added"] == sorted(apps.PERMISSIONS)
    # The public plan never holds a body.
    assert all("body" not in call for call in apps.public_plan(plan))


def test_a_registration_as_asked_plans_nothing():
    plan = apps.plan_registration(spec(), APP, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)
    assert plan["calls"] == [] and plan["action"] == "none" and plan["before"] == plan["after"]


def test_permissions_set_grants_and_revokes_and_the_api_permission_list_follows():
    plan = apps.plan_registration(spec(permissions={"set": ["User.ReadWrite.All", "Mail.Send"]}), APP, SP, GRAPH_SP,
                                  granted(*apps.PERMISSIONS), now=NOW)
    assert plan["permissions_added"] == ["Mail.Send"]
    assert plan["permissions_removed"] == ["Directory.ReadWrite.All", "Domain.ReadWrite.All", "Organization.Read.All"]
    update = [c for c in plan["calls"] if c["op"] == "update"][0]
    assert sorted(a["id"] for a in update["body"]["requiredResourceAccess"][0]["resourceAccess"]) == sorted([ROLES["User.ReadWrite.All"], ROLES["Mail.Send"]])
    assert [c["path"] for c in plan["calls"] if c["op"] == "revoke"][0] == "servicePrincipals/sp-1/appRoleAssignments/a-Directory.ReadWrite.All"


def test_too_many_revocations_are_refused():
    with pytest.raises(_model.RemovalRefused):
        apps.plan_registration(spec(permissions={"set": ["User.Read.All"]}), APP, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)


def test_an_unknown_permission_is_refused_with_the_closest_names():
    with pytest.raises(ValidationError) as error:
        apps.plan_registration(spec(permissions={"add": ["User.ReadWrite.Al"]}), None, None, GRAPH_SP, [], now=NOW)
    assert "did you mean User.ReadWrite.All" in error.value.message and error.value.field == "permissions"


def test_an_expired_secret_is_replaced_and_rotation_adds_one():
    expired = dict(APP, passwordCredentials=[dict(APP["passwordCredentials"][0], endDateTime="2026-11-30T00:00:00Z")])
    assert ops(apps.plan_registration(spec(), expired, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)) == [("add_secret", None)]
    assert ops(apps.plan_registration(spec(rotate_secret=True), APP, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)) == [("add_secret", None)]
    assert apps.plan_registration(spec(credential="none"), expired, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)["calls"] == []


def test_removal_is_refused_without_force():
    with pytest.raises(ValidationError) as error:
        apps.plan_registration(spec(state="absent"), APP, SP, None, [], now=NOW)
    assert error.value.field == "force" and "Office 365 application" in error.value.message
    plan = apps.plan_registration(spec(state="absent", force=True), APP, SP, None, [], now=NOW)
    assert ops(plan) == [("delete", None)] and plan["calls"][0]["path"] == "applications/app-1"
    assert apps.plan_registration(spec(state="absent"), None, None, None, [], now=NOW)["calls"] == []


@pytest.mark.parametrize("params, field", [
    ({"app_id": "not-a-guid"}, "app_id"),
    ({"permissions": {"add": ["not a permission"]}}, "permissions"),
    ({"credential": "certificate"}, "certificate_path"),
    ({"certificate_path": "/tmp/x.crt"}, "certificate_path"),
    ({"secret_expiry_days": 1000}, "secret_expiry_days"),
    ({"max_removals": "three"}, "max_removals"),
    ({"display_name": "  "}, "display_name"),
])
def test_bad_options_are_refused_before_any_call(params, field):
    with pytest.raises(ValidationError) as error:
        apps.registration_spec(params)
    assert error.value.field == field


def test_a_certificate_is_added_once_and_a_private_key_is_refused():
    from tests.sandbox.auth import make_certificate
    made = make_certificate("Practice Protect")
    with pytest.raises(ValidationError):
        apps.registration_spec({"credential": "certificate", "certificate_path": "key.pem"}, read_certificate=lambda path: made["key_pem"])
    certificate = apps.registration_spec({"credential": "certificate", "certificate_path": "cert.pem"}, read_certificate=lambda path: made["cert_pem"])
    assert certificate["certificate"]["thumbprint"] == made["thumbprint"]
    plan = apps.plan_registration(certificate, APP, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)
    assert ops(plan) == [("add_certificate", None)]
    held = dict(APP, keyCredentials=[{"customKeyIdentifier": made["thumbprint"], "type": "AsymmetricX509Cert", "usage": "Verify"}])
    assert apps.plan_registration(certificate, held, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)["calls"] == []


def test_a_token_without_the_grant_permission_is_refused_before_any_write():
    import base64
    import json

    def token(roles):
        body = base64.urlsafe_b64encode(json.dumps({"roles": roles}).encode()).decode().rstrip("=")
        return "Bearer e30.%s.sig" % body

    plan = apps.plan_registration(spec(), None, None, GRAPH_SP, [], now=NOW)
    with pytest.raises(ValidationError) as error:
        apps.check_grant_permission(plan, apps.token_roles(token(["Application.ReadWrite.All"])))
    assert "AppRoleAssignment.ReadWrite.All" in error.value.message
    apps.check_grant_permission(plan, apps.token_roles(token(["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"])))
    apps.check_grant_permission(plan, apps.token_roles("Bearer opaque"))  # unreadable: Graph decides
    nothing = apps.plan_registration(spec(), APP, SP, GRAPH_SP, granted(*apps.PERMISSIONS), now=NOW)
    apps.check_grant_permission(nothing, set())
