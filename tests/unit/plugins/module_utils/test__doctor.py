# -*- coding: utf-8 -*-
"""The doctor's checks on fake answers: each check's lines, one check's failure never stopping the others, the
provisioning mechanism, the reports and the snapshot (no secret in any of them)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _doctor
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import describe_error
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError

SECRET = "s3cr3t-value-that-must-never-show"
CLIENT_ID = "4a1d7c3e-8b2f-4e6a-9c5d-1f3b7a9e2c40"
OID = "11111111-2222-3333-4444-555555555555"
ALL_GRAPH = ["User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All", "RoleManagement.ReadWrite.Directory", "Mail.Send",
             "GroupMember.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All", "MailboxSettings.ReadWrite",
             "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"]


def jwt(claims):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (part({"alg": "RS256"}), part(claims), "signature-not-checked")


class FakeGraph:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def _answer(self, path):
        self.calls.append(path)
        value = self.answers.get(path)
        if isinstance(value, Exception):
            raise value
        return value

    def list(self, path, params=None):
        return list(self._answer(path) or [])

    def get_or_none(self, path, params=None):
        return self._answer(path)


class FakeExchange:
    def __init__(self, domains=("contoso.com", "contoso.onmicrosoft.com"), error=None):
        self.domains = domains
        self.error = error

    def invoke(self, cmdlet, parameters=None):
        assert cmdlet == "Get-AcceptedDomain"
        if self.error:
            raise self.error
        return [{"DomainName": d} for d in self.domains]


class FakePP:
    client_id = "automation@contoso.com"
    app_id = "ansible"
    scope = "all"

    def __init__(self, rights=("Read Only System Administration", "User Management", "Role Management", "Application Management"),
                 role="Automation", error=None, directories=None):
        self.rights = list(rights)
        self.role = role
        self.error = error
        self.directories = directories

    def _check(self):
        if self.error:
            raise self.error

    def token(self):
        self._check()
        return "pp-token"

    def call(self, name, body=None, params=None):
        self._check()
        assert name == "whoami"
        return {"UserUuid": "u-1"}

    def users(self):
        return [{"ID": "u-1", "Username": self.client_id, "DisplayName": "Automation", "Email": None, "SourceDsType": "CDS", "Status": "Active"},
                {"ID": "u-2", "Username": "jane@contoso.com", "DisplayName": "Jane", "Email": "jane@contoso.com", "SourceDsType": "CDS",
                 "Status": "Active"}]

    def user_roles(self, user_id):
        self._check()
        return [{"Name": self.role, "AdministrativeRights": self.rights}]

    def directory_services(self):
        self._check()
        return self.directories if self.directories is not None else [
            {"Service": "CDS", "DisplayName": "Practice Protect Directory", "Status": "Active"},
            {"Service": "FDS", "DisplayName": "Federated Directory Service", "Status": "Active"},
            {"Service": "AdProxy", "DisplayName": "Active Directory: corp.local", "Status": "Inactive"}]

    def roles(self):
        self._check()
        return [{"ID": "r1", "Name": "Office 365", "Description": "O365"}, {"ID": "sysadmin", "Name": "System Administrator"}]

    def applications(self):
        self._check()
        return [{"Name": "Office 365", "DisplayName": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": True}]

    def role_members(self, role_id):
        return [{"Guid": "u-2", "Type": "User"}] if role_id == "r1" else []


SWAGGER = {"paths": {"/Redrock/query": {}, "/Provisioning/StartSync": {}, "/Provisioning/GetJobStatus": {}, "/Provisioning/GetJobHistory": {}}}


def graph_answers(**overrides):
    answers = {
        "directoryRoles": [{"id": "d1", "displayName": "Exchange Administrator", "roleTemplateId": "29232cdf-9323-42fd-ade2-1d097af3e4de"},
                           {"id": "d2", "displayName": "Global Administrator", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"}],
        "directoryRoles/d1/members": [{"id": OID, "appId": CLIENT_ID}],
        "directoryRoles/d2/members": [{"id": "admin-user"}],
        "domains": [{"id": "contoso.com", "isVerified": True, "isDefault": True, "supportedServices": ["Email"]},
                    {"id": "contoso.onmicrosoft.com", "isVerified": True, "isInitial": True, "supportedServices": ["Email"]}],
        "subscribedSkus": [{"skuId": "sku-1", "skuPartNumber": "O365_BUSINESS_PREMIUM", "prepaidUnits": {"enabled": 10}, "consumedUnits": 3,
                            "capabilityStatus": "Enabled", "servicePlans": [{"servicePlanId": "p1", "servicePlanName": "EXCHANGE_S_STANDARD"}]}],
        "users/practiceprotect@contoso.onmicrosoft.com": None,
        "applications": [{"displayName": "Practice Protect provisioning", "appId": "pp-app", "requiredResourceAccess": [
            {"resourceAppId": _doctor.GRAPH_APP_ID, "resourceAccess": [{"id": "x", "type": "Role"}, {"id": "y", "type": "Role"}]}]}],
        "groups": [{"id": "g1", "displayName": "Staff", "mailEnabled": False, "securityEnabled": True}],
        "groups/g1/members": [{"id": "user-1"}],
        "users": [{"id": "user-1", "userPrincipalName": "jane@contoso.com", "displayName": "Jane", "assignedLicenses": [{"skuId": "sku-1"}]}],
        "roleManagement/directory/roleAssignments": [],
    }
    answers.update(overrides)
    return answers


class Sources:
    def __init__(self, graph_roles=None, exchange_roles=("Exchange.ManageAsApp",), graph=None, exchange=None, pp=None, pp_missing=None,
                 swagger=None, token_error=None):
        self.graph_roles = ALL_GRAPH if graph_roles is None else graph_roles
        self.exchange_roles = exchange_roles
        self._graph = FakeGraph(graph if graph is not None else graph_answers())
        self._exchange = exchange or FakeExchange()
        self._pp = pp or FakePP()
        self._pp_missing = pp_missing
        self._swagger = SWAGGER if swagger is None else swagger
        self.token_error = token_error

    def credential(self):
        return {"kind": "client secret", "client_id": CLIENT_ID, "tenant_id": "contoso.onmicrosoft.com", "thumbprint": None}

    def token(self, resource):
        if self.token_error:
            raise self.token_error
        roles = self.graph_roles if resource == "graph" else self.exchange_roles
        return jwt({"oid": OID, "appid": CLIENT_ID, "roles": list(roles)})

    def graph(self):
        return self._graph

    def exchange(self):
        return self._exchange

    def pp(self):
        return self._pp

    def pp_missing(self):
        return self._pp_missing

    def swagger(self):
        if isinstance(self._swagger, Exception):
            raise self._swagger
        return self._swagger

    @staticmethod
    def describe(error):
        return describe_error(error, ("Read Only System Administration",))


TARGETS = ["m365_user", "m365_alias", "pp_user", "outbound_sync", "onboard_user"]


def run(sources, targets=None, **kwargs):
    doctor = _doctor.Doctor(sources, targets or TARGETS, error_types=(GraphError, PracticeProtectError), **kwargs)
    return doctor, dict(((item["service"], item["check"]), item) for item in doctor.run())


def test_a_ready_tenant_is_ok_but_for_what_deserves_a_warning():
    doctor, lines = run(Sources())
    bad = [(k, v["detail"]) for k, v in lines.items() if v["status"] != "ok"]
    assert bad == []
    assert lines[("Microsoft 365", "credential")]["detail"].startswith("client secret of app %s" % CLIENT_ID)
    assert "%d application permissions" % len(ALL_GRAPH) in lines[("Microsoft 365", "token and application permissions")]["detail"]
    assert lines[("Microsoft 365", "directory roles of the app")]["detail"] == "The app holds Exchange Administrator."
    assert lines[("Practice Protect", "provisioning mechanism")]["detail"].startswith("Token-based")
    assert "Inactive (skipped): AdProxy Active Directory: corp.local (Inactive)" in lines[("Practice Protect", "directories")]["detail"]
    assert doctor.facts["job_api"]["missing"] == []


def test_a_missing_permission_is_an_error_line_naming_it():
    lines = run(Sources(graph_roles=["User.Read.All", "Domain.Read.All", "Organization.Read.All"]))[1]
    line = lines[("Microsoft 365", "permissions of m365_user")]
    assert line["status"] == "error" and "User.ReadWrite.All" in line["detail"] and "User.ReadWrite.All" in line["action"]
    assert lines[("Microsoft 365", "permissions of m365_alias")]["status"] == "ok"  # User.Read.All is enough there
    role = lines[("Microsoft 365", "permissions of role onboard_user")]
    assert role["status"] == "error" and "Mail.Send" in role["detail"] and "GroupMember.ReadWrite.All" in role["detail"]


def test_a_broader_permission_is_enough():
    lines = run(Sources(graph_roles=["Directory.ReadWrite.All", "Mail.Send", "RoleManagement.ReadWrite.Directory"]))[1]
    assert lines[("Microsoft 365", "permissions of role onboard_user")]["status"] == "ok"


def test_exchange_permission_and_role_come_from_the_exchange_token_and_the_directory_roles():
    answers = graph_answers(**{"directoryRoles/d1/members": []})
    lines = run(Sources(exchange_roles=(), graph=answers))[1]
    line = lines[("Microsoft 365", "permissions of m365_alias")]
    assert line["status"] == "error"
    assert "Exchange.ManageAsApp" in line["detail"] and "the Exchange Administrator directory role" in line["detail"]
    roles = lines[("Microsoft 365", "directory roles of the app")]
    assert roles["status"] == "error" and "Exchange Administrator > Add assignments" in roles["action"]


def test_a_global_administrator_app_is_a_warning():
    answers = graph_answers(**{"directoryRoles/d2/members": [{"id": OID}]})
    lines = run(Sources(graph=answers))[1]
    assert lines[("Microsoft 365", "directory roles of the app")]["status"] == "warning"


def test_a_refused_read_is_an_error_line_and_the_others_still_run():
    denied = GraphError("Insufficient privileges to complete the operation.", status=403, code="Authorization_RequestDenied", method="GET",
                        path="subscribedSkus")
    lines = run(Sources(graph=graph_answers(subscribedSkus=denied)))[1]
    line = lines[("Microsoft 365", "licences (SKUs and free seats)")]
    assert line["status"] == "error" and "Organization.Read.All" in line["detail"]
    assert lines[("Microsoft 365", "domains")]["status"] == "ok"
    assert lines[("Practice Protect", "roles")]["status"] == "ok"


def test_no_token_makes_every_microsoft_365_line_an_error_and_practice_protect_still_runs():
    from ansible_collections.practiceprotect.m365.plugins.module_utils._auth import AuthError
    error = AuthError("Sign-in as the application failed: AADSTS7000215 invalid client secret (invalid_client)", error_code="invalid_client")
    doctor = _doctor.Doctor(Sources(token_error=error), TARGETS, error_types=(GraphError, PracticeProtectError, AuthError))
    lines = dict(((i["service"], i["check"]), i) for i in doctor.run())
    assert lines[("Microsoft 365", "token and application permissions")]["status"] == "error"
    assert "AADSTS7000215" in lines[("Microsoft 365", "token and application permissions")]["detail"]
    assert lines[("Exchange Online", "reachable with the app's role")]["status"] == "error"
    assert lines[("Microsoft 365", "permissions of m365_user")]["status"] == "warning"  # not checked
    assert lines[("Practice Protect", "token")]["status"] == "ok"
    assert lines[("Practice Protect", "permissions of pp_user")]["status"] == "ok"


def test_practice_protect_down_is_an_error_line_and_microsoft_365_still_ran():
    down = PracticeProtectError("Practice Protect answered HTTP 503 for /oauth2/token/ansible.", status=503)
    lines = run(Sources(pp=FakePP(error=down), swagger=down))[1]
    for check in ("token", "admin rights of the client", "directories", "roles", "application Office 365", "job API (swagger)"):
        assert lines[("Practice Protect", check)]["status"] == "error", check
    assert lines[("Practice Protect", "permissions of pp_user")]["status"] == "warning"
    assert lines[("Microsoft 365", "domains")]["status"] == "ok"
    assert lines[("Microsoft 365", "permissions of m365_user")]["status"] == "ok"


def test_practice_protect_not_configured_says_what_to_set():
    lines = run(Sources(pp_missing="Missing the Practice Protect connection: set pp_url."))[1]
    line = lines[("Practice Protect", "token")]
    assert line["status"] == "error" and line["detail"] == "Not checked: Missing the Practice Protect connection: set pp_url."


def test_admin_rights():
    lines = run(Sources(pp=FakePP(rights=["Role Management"])))[1]
    assert lines[("Practice Protect", "permissions of pp_user")]["status"] == "error"
    assert "the User Management admin right" in lines[("Practice Protect", "permissions of pp_user")]["detail"]
    lines = run(Sources(pp=FakePP(rights=[], role="System Administrator")))[1]
    assert lines[("Practice Protect", "admin rights of the client")]["status"] == "warning"
    assert lines[("Practice Protect", "permissions of pp_user")]["status"] == "ok"
    lines = run(Sources(pp=FakePP(rights=[])))[1]
    assert lines[("Practice Protect", "admin rights of the client")]["status"] == "error"


def test_job_api_not_listed_names_the_paths_and_the_tenants_own():
    swagger = {"paths": {"/Redrock/query": {}, "/SaasManage/StartProvisioningJob": {}, "/Jobs/GetJobReport": {}}}
    doctor, lines = run(Sources(swagger=swagger))
    line = lines[("Practice Protect", "job API (swagger)")]
    assert line["status"] == "warning"
    assert "/SaasManage/StartProvisioningJob" in line["detail"] and "/Jobs/GetJobReport" in line["detail"]
    assert "Not listed: /Provisioning/StartSync" in line["detail"]
    assert doctor.facts["job_api"]["candidates"] == ["/Jobs/GetJobReport", "/SaasManage/StartProvisioningJob"]


def test_directories_without_cds_are_an_error():
    lines = run(Sources(pp=FakePP(directories=[{"Service": "FDS", "DisplayName": "Federated", "Status": "Active"}])))[1]
    assert lines[("Practice Protect", "directories")]["status"] == "error"


@pytest.mark.parametrize("apps, account, expected", [
    ([{"displayName": "Practice Protect"}], None, ("ok", "Token-based")),
    ([], [{"roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10"}], ("ok", "Service account")),
    ([{"displayName": "PracticeProtect sync"}], [{"roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10"}], ("warning", "Both")),
    ([], None, ("warning", "Not determined")),
])
def test_provisioning_mechanism(apps, account, expected):
    overrides = {"applications": apps}
    if account is not None:
        overrides["users/practiceprotect@contoso.onmicrosoft.com"] = {
            "id": "sa", "userPrincipalName": "practiceprotect@contoso.onmicrosoft.com", "accountEnabled": True, "assignedLicenses": []}
        overrides["roleManagement/directory/roleAssignments"] = account
        overrides["roleManagement/directory/roleDefinitions"] = [{"id": "62e90394-69f5-4237-9190-012177145e10",
                                                                  "displayName": "Global Administrator"}]
    lines = run(Sources(graph=graph_answers(**overrides)))[1]
    line = lines[("Practice Protect", "provisioning mechanism")]
    assert (line["status"], line["detail"].split(" ")[0].rstrip(".")) == (expected[0], expected[1].split(" ")[0])


def test_app_registrations_unreadable_is_a_warning_naming_the_permission():
    denied = GraphError("Insufficient privileges to complete the operation.", status=403, method="GET", path="applications")
    lines = run(Sources(graph=graph_answers(applications=denied)))[1]
    line = lines[("Microsoft 365", "app registrations for Practice Protect")]
    assert line["status"] == "warning" and "Application.Read.All" in line["action"]


def test_a_licensed_service_account_is_a_warning():
    overrides = {"users/practiceprotect@contoso.onmicrosoft.com": {"id": "sa", "userPrincipalName": "practiceprotect@contoso.onmicrosoft.com",
                                                                   "accountEnabled": True, "assignedLicenses": [{"skuId": "sku-1"}]},
                 "roleManagement/directory/roleAssignments": [{"roleDefinitionId": "29232cdf-9323-42fd-ade2-1d097af3e4de"}],
                 "roleManagement/directory/roleDefinitions": []}
    lines = run(Sources(graph=graph_answers(**overrides)))[1]
    line = lines[("Microsoft 365", "service account")]
    assert line["status"] == "warning" and "Exchange Administrator" in line["detail"] and "Remove its licence" in line["action"]


def test_skus_without_a_free_seat_and_unverified_domains_are_warnings():
    overrides = {"subscribedSkus": [{"skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": {"enabled": 2}, "consumedUnits": 2}],
                 "domains": graph_answers()["domains"] + [{"id": "legacy.com", "isVerified": False}]}
    lines = run(Sources(graph=graph_answers(**overrides)))[1]
    assert lines[("Microsoft 365", "licences (SKUs and free seats)")]["detail"] == "ENTERPRISEPACK 0 of 2 free."
    assert lines[("Microsoft 365", "licences (SKUs and free seats)")]["status"] == "warning"
    assert lines[("Microsoft 365", "domains")]["status"] == "warning" and "legacy.com" in lines[("Microsoft 365", "domains")]["action"]


def test_token_claims_reads_the_payload_only():
    assert _doctor.token_claims(jwt({"roles": ["A"]})) == {"roles": ["A"]}
    assert _doctor.token_claims("not a token") is None
    assert _doctor.token_claims(None) is None


def test_snapshot_shape_without_and_with_users():
    doctor = run(Sources(), snapshot=True)[0]
    snap = doctor.snapshot(now="2025-01-01T00:00:00+00:00")
    assert snap["snapshot_version"] == 1 and snap["users_included"] is False and "users" not in snap
    assert [d["id"] for d in snap["domains"]] == ["contoso.com", "contoso.onmicrosoft.com"]
    assert snap["skus"][0]["prepaidUnits"] == {"enabled": 10} and snap["skus"][0]["consumedUnits"] == 3
    assert snap["groups"] == [{"displayName": "Staff", "description": None, "mailNickname": None, "mailEnabled": False, "securityEnabled": True,
                               "groupTypes": None, "members": []}]
    assert "users" not in snap["practice_protect"] and snap["practice_protect"]["roles"][0]["Name"] == "Office 365"
    doctor = run(Sources(), snapshot_users=True)[0]
    snap = doctor.snapshot()
    assert snap["users"][0]["userPrincipalName"] == "jane@contoso.com" and snap["users"][0]["licenses"] == ["sku-1"]
    assert snap["groups"][0]["members"] == ["jane@contoso.com"]
    assert [u["Name"] for u in snap["practice_protect"]["users"] if u["Roles"] == ["Office 365"]] == ["jane@contoso.com"]


def test_reports_and_snapshot_hold_no_secret(tmp_path):
    doctor = run(Sources(), snapshot_users=True)[0]
    lines = doctor.lines
    files = _doctor.write_reports(str(tmp_path / "reports"), lines, "start", "end")
    path = _doctor.write_snapshot(str(tmp_path / "snap" / "tenant.json"), doctor.snapshot())
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    text = _doctor.text_report(lines)
    for content in [text] + [open(p).read() for p in list(files.values()) + [path]]:
        assert SECRET not in content and "signature-not-checked" not in content and "pp-token" not in content
    assert open(files["markdown"]).read().startswith("# Tenant readiness")
    assert json.load(open(files["json"]))["summary"] == _doctor.summary(lines)
    assert text.splitlines()[-1].endswith("0 errors.")
