"""The sandbox's two provisioning methods (pp_methods.py) and its Graph application registration routes (graph_applications.py)."""

import pytest
import requests

from tests.sandbox.client import start_sandbox

OFFICE365_APP = "5a2e7f9c-1b3d-4e6f-8a0b-2c4d6e8f0a1b"
OFFICE365_ROLE = "b1a6c3d2_4e5f_4a7b_8c9d_0e1f2a3b4c5d"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
USER_READWRITE_ALL = "741f803b-c850-494e-b5df-cde7c675a1ca"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("methods-sandbox")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.reset()


def session(sandbox):
    http = requests.Session()
    http.verify = sandbox.env["M365_CA_PATH"]
    http.trust_env = False
    return http


class PP:
    def __init__(self, sandbox):
        env = sandbox.env
        self.base = env["PP_URL"]
        self.http = session(sandbox)
        answer = self.http.post("%s/oauth2/token/%s" % (self.base, env["PP_APP_ID"]), data={"grant_type": "client_credentials", "scope": "all"},
                                auth=(env["PP_CLIENT_ID"], env["PP_CLIENT_SECRET"]), timeout=30).json()
        self.http.headers["Authorization"] = "Bearer " + answer["access_token"]

    def ok(self, path, body=None):
        answer = self.http.post(self.base + path, json=body or {}, timeout=30).json()
        assert answer["success"] is True, answer
        return answer["Result"]


def graph_user(sandbox, upn):
    found = [u for u in sandbox.state()["users"] if u["_state"] == "active" and u["userPrincipalName"].lower() == upn.lower()]
    return found[0] if found else None


def joiner(pp):
    user_id = pp.ok("/CDirectoryService/CreateUser", {"Name": "jane@northwindacct.com", "DisplayName": "Jane Citizen", "SendEmailInvite": False})
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": user_id, "Columns": {"O365_ProxyAddresses": "SMTP:jane@northwindacct.com;smtp:j@northwindacct.com"}})
    pp.ok("/Roles/UpdateRole", {"Name": OFFICE365_ROLE, "Users": {"Add": [user_id]}})
    return user_id


def run_job(pp):
    job_id = pp.ok("/Provisioning/StartSync", {"AppKey": OFFICE365_APP})["JobId"]
    return pp.ok("/Provisioning/GetJobStatus", {"JobId": job_id})


def test_the_method_is_a_knob_defaulting_to_the_service_account():
    from tests.sandbox import realism
    assert realism.default_config()["pp_provisioning_method"] == "service_account"
    with pytest.raises(ValueError, match="pp_provisioning_method must be one of service_account, token"):
        realism.merge_config(realism.default_config(), {"pp_provisioning_method": "basic"})


def test_token_based_sync_writes_only_what_practice_protect_controls(sandbox):
    sandbox.configure(pp_provisioning_method="token")
    pp = PP(sandbox)
    joiner(pp)
    job = run_job(pp)  # no app registration named in the Office 365 app: the job fails before any write
    assert job["State"] == "Failed" and job["Failures"][0]["Reason"] == "AppRegistrationNotConfigured"
    assert graph_user(sandbox, "jane@northwindacct.com") is None

    weak = sandbox.control("POST", "seed", json={"applications": [{"displayName": "Practice Protect", "roles": ["User.Read.All"]}]})
    sandbox.control("POST", "pp/seed", json={"apps": {OFFICE365_APP: {"client_id": weak["applications"][0]["appId"]}}})
    job = run_job(pp)
    assert job["State"] == "Failed" and job["Failures"][0]["Reason"] == "AppRegistrationPermission"

    app = sandbox.control("POST", "seed", json={"applications": [{"displayName": "Practice Protect", "roles": ["User.ReadWrite.All"]}]})
    sandbox.control("POST", "pp/seed", json={"apps": {OFFICE365_APP: {"client_id": app["applications"][0]["appId"]}}})
    job = run_job(pp)
    assert job["State"] == "Succeeded", job
    jane = graph_user(sandbox, "jane@northwindacct.com")
    # Display name, location, immutable id and UPN; no licence, no alias (Microsoft 365 owns them).
    assert jane["displayName"] == "Jane Citizen" and jane["usageLocation"] == "AU" and jane["onPremisesImmutableId"]
    assert jane["assignedLicenses"] == []
    assert not any("j@northwindacct.com" == a.split(":", 1)[1] for a in jane.get("proxyAddresses") or [])
    # Microsoft 365's own changes are kept by the next sync, and the location Practice Protect controls is put back.
    with session(sandbox) as http:
        http.headers["Authorization"] = "Bearer " + sandbox.token()
        assert http.patch("%s/users/%s" % (sandbox.graph_url, jane["id"]), json={"usageLocation": "NZ", "jobTitle": "Partner"},
                          timeout=30).status_code == 204
    again = run_job(pp)
    assert again["Summary"]["Updated"] == 1
    jane = graph_user(sandbox, "jane@northwindacct.com")
    assert jane["usageLocation"] == "AU" and jane["jobTitle"] == "Partner"


def test_service_account_method_is_unchanged_by_an_app_registration(sandbox):
    pp = PP(sandbox)
    joiner(pp)
    job = run_job(pp)
    assert job["State"] == "Failed" and job["Failures"][0]["Reason"] == "ServiceAccountMissing"


def graph(sandbox, roles):
    app = sandbox.add_app("registrar %s" % "+".join(roles), roles)
    http = session(sandbox)
    http.headers["Authorization"] = "Bearer " + sandbox.token(app["client_id"], app["client_secret"])
    return http


def test_application_registration_routes(sandbox):
    http = graph(sandbox, ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"])
    base = sandbox.graph_url
    graph_sp = http.get(base + "/servicePrincipals", params={"$filter": "appId eq '%s'" % GRAPH_APP_ID}, timeout=30).json()["value"][0]
    assert any(r["id"] == USER_READWRITE_ALL and r["value"] == "User.ReadWrite.All" for r in graph_sp["appRoles"])
    created = http.post(base + "/applications", json={"displayName": "Practice Protect", "requiredResourceAccess": [
        {"resourceAppId": GRAPH_APP_ID, "resourceAccess": [{"id": USER_READWRITE_ALL, "type": "Role"}]}]}, timeout=30)
    assert created.status_code == 201, created.text
    app = created.json()
    sp = http.post(base + "/servicePrincipals", json={"appId": app["appId"]}, timeout=30)
    assert sp.status_code == 201, sp.text
    sp = sp.json()
    assert http.post(base + "/servicePrincipals", json={"appId": app["appId"]}, timeout=30).status_code == 409
    grant = {"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": USER_READWRITE_ALL}
    assert http.post(base + "/servicePrincipals/%s/appRoleAssignments" % sp["id"], json=grant, timeout=30).status_code == 201
    again = http.post(base + "/servicePrincipals/%s/appRoleAssignments" % sp["id"], json=grant, timeout=30)
    assert again.status_code == 400 and again.json()["error"]["message"] == "Permission being assigned already exists on the object"
    password = http.post(base + "/applications/%s/addPassword" % app["id"], json={"passwordCredential": {"displayName": "Practice Protect"}},
                         timeout=30).json()
    assert len(password["secretText"]) >= 30 and password["hint"] == password["secretText"][:3]
    read = http.get(base + "/applications", params={"$filter": "displayName eq 'Practice Protect'"}, timeout=30).json()["value"]
    assert [c["secretText"] for c in read[0]["passwordCredentials"]] == [None]
    assert http.delete(base + "/applications/%s" % app["id"], timeout=30).status_code == 204
    assert http.get(base + "/servicePrincipals/%s" % sp["id"], timeout=30).status_code == 404
    assert sandbox.state()["registrations"]["appRoleAssignments"] == []


def test_application_routes_need_their_permissions(sandbox):
    base = sandbox.graph_url
    reader = graph(sandbox, ["Application.Read.All"])
    assert reader.get(base + "/applications", timeout=30).status_code == 200
    assert reader.post(base + "/applications", json={"displayName": "x"}, timeout=30).status_code == 403
    writer = graph(sandbox, ["Application.ReadWrite.All"])
    app = writer.post(base + "/applications", json={"displayName": "x"}, timeout=30).json()
    sp = writer.post(base + "/servicePrincipals", json={"appId": app["appId"]}, timeout=30).json()
    graph_sp = writer.get(base + "/servicePrincipals", params={"$filter": "appId eq '%s'" % GRAPH_APP_ID}, timeout=30).json()["value"][0]
    grant = {"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": USER_READWRITE_ALL}
    assert writer.post(base + "/servicePrincipals/%s/appRoleAssignments" % sp["id"], json=grant, timeout=30).status_code == 403
    # AppRoleAssignment.ReadWrite.All alone is not enough: the docs ask for it "and Application.Read.All".
    granter = graph(sandbox, ["AppRoleAssignment.ReadWrite.All"])
    assert granter.post(base + "/servicePrincipals/%s/appRoleAssignments" % sp["id"], json=grant, timeout=30).status_code == 403
    both = graph(sandbox, ["AppRoleAssignment.ReadWrite.All", "Application.Read.All"])
    assert both.post(base + "/servicePrincipals/%s/appRoleAssignments" % sp["id"], json=grant, timeout=30).status_code == 201
