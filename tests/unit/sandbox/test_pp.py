"""The sandbox's Practice Protect API (tests/sandbox/pp*.py): a real server in a child process, plain requests."""

import time

import pytest
import requests

from tests.sandbox.client import SandboxError, start_sandbox

OFFICE365_APP = "5a2e7f9c-1b3d-4e6f-8a0b-2c4d6e8f0a1b"
DROPBOX_APP = "7c4a9b1e-3d5f-4a8b-8c2d-4e6f8a0b2c3d"
OFFICE365_ROLE = "b1a6c3d2_4e5f_4a7b_8c9d_0e1f2a3b4c5d"
TAX_ROLE = "d3c8e5f4_6a7b_4c9d_8e1f_2a3b4c5d6e7f"
SARAH = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
TOM = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e"
PRIYA = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6f"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SERVICE_ACCOUNT = "practiceprotect@northwindacct.onmicrosoft.com"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("pp-sandbox")))
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


def token(sandbox, client_id=None, secret=None, app_id=None, scope="all"):
    env = sandbox.env
    with session(sandbox) as http:
        return http.post("%s/oauth2/token/%s" % (env["PP_URL"], app_id or env["PP_APP_ID"]), data={"grant_type": "client_credentials",
                                                                                                   "scope": scope},
                         auth=(client_id or env["PP_CLIENT_ID"], secret or env["PP_CLIENT_SECRET"]), timeout=30)


class PP:
    def __init__(self, sandbox, bearer=None):
        self.base = sandbox.env["PP_URL"]
        self.http = session(sandbox)
        self.http.headers["Authorization"] = "Bearer " + (bearer or token(sandbox).json()["access_token"])

    def raw(self, path, body=None, **kwargs):
        return self.http.post(self.base + path, json=body if body is not None else {}, timeout=30, **kwargs)

    def call(self, path, body=None, **kwargs):
        response = self.raw(path, body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, path, body=None, **kwargs):
        answer = self.call(path, body, **kwargs)
        assert answer["success"] is True, answer
        return answer["Result"]

    def error(self, path, body=None, **kwargs):
        answer = self.call(path, body, **kwargs)
        assert answer["success"] is False and answer["Result"] is None, answer
        return answer["ErrorID"], answer["Message"]

    def query(self, sql, **args):
        return [r["Row"] for r in self.ok("/Redrock/query", {"Script": sql, "Args": args})["Results"]]


@pytest.fixture
def pp(sandbox):
    return PP(sandbox)


def graph_user(sandbox, upn):
    found = [u for u in sandbox.state()["users"] if u["_state"] == "active" and u["userPrincipalName"].lower() == upn.lower()]
    return found[0] if found else None


def service_account(sandbox, global_admin=True):
    user_id = sandbox.seed([{"userPrincipalName": SERVICE_ACCOUNT}])["created"][0]
    if global_admin:
        with session(sandbox) as http:
            http.headers["Authorization"] = "Bearer " + sandbox.token()
            response = http.post(sandbox.graph_url + "/roleManagement/directory/roleAssignments",
                                 json={"principalId": user_id, "roleDefinitionId": GLOBAL_ADMIN, "directoryScopeId": "/"}, timeout=30)
            assert response.status_code in (201, 400), response.text
    return user_id


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met within %ss" % timeout)


# ---------------------------------------------------------------------------------------------------------------------
# Protocol


def test_token_with_basic_client_credentials(sandbox):
    ok = token(sandbox)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["scope"] == "all" and body["access_token"]
    wrong = token(sandbox, secret="nope")
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert token(sandbox, app_id="other").json()["error"] == "invalid_request"
    assert token(sandbox, scope="admin").json()["error"] == "invalid_scope"
    with session(sandbox) as http:
        grant = http.post(sandbox.env["PP_URL"] + "/oauth2/token/ansible", data={"grant_type": "password"},
                          auth=(sandbox.env["PP_CLIENT_ID"], sandbox.env["PP_CLIENT_SECRET"]), timeout=30)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_envelope_and_authentication(sandbox, pp):
    answer = pp.call("/Security/Whoami")
    assert set(answer) == {"success", "Result", "Message", "MessageID", "Exception", "ErrorID", "ErrorCode", "IsSoftError", "InnerExceptions"}
    assert answer["success"] is True and answer["Result"]["User"] == sandbox.env["PP_CLIENT_ID"]
    anonymous = PP(sandbox, bearer="not-a-token").raw("/Security/Whoami")
    assert anonymous.status_code == 401 and anonymous.json()["success"] is False and anonymous.json()["ErrorID"] == "Unauthenticated"
    # business errors are HTTP 200 with success false
    assert pp.error("/UserMgmt/GetUserAttributes", {"ID": "00000000-0000-0000-0000-000000000000"})[0] == "UserNotFound"
    assert pp.raw("/Nope/Nothing").status_code == 404
    assert pp.http.get(pp.base + "/Security/Whoami", timeout=30).status_code == 405


def test_paths_are_case_insensitive_and_every_call_is_logged(sandbox, pp):
    for path in ("/Redrock/query", "/RedRock/Query", "/redrock/query"):
        assert pp.ok(path, {"Script": "SELECT ID FROM Role WHERE Name = 'Tax Team'"})["Results"][0]["Row"]["ID"] == TAX_ROLE
    pp.ok("/Roles/UpdateRole", {"Name": TAX_ROLE, "Users": {"Add": [SARAH]}})
    entries = [e for e in sandbox.log() if e["service"] == "pp"]
    assert [(e["path"], e["write"]) for e in entries[-4:]] == [
        ("/Redrock/query", False), ("/RedRock/Query", False), ("/redrock/query", False), ("/Roles/UpdateRole", True)]
    assert entries[-1]["app_id"] == sandbox.env["PP_CLIENT_ID"] and entries[-1]["body_keys"] == ["Name", "Users"]


def test_swagger_needs_no_token_and_lists_the_job_endpoints(sandbox):
    with session(sandbox) as http:
        doc = http.get(sandbox.env["PP_URL"] + "/vfslow/lib/api/swagger.json", timeout=30).json()
    assert {"/Provisioning/StartSync", "/Provisioning/GetJobStatus", "/Provisioning/GetJobHistory", "/Redrock/query"} <= set(doc["paths"])


# ---------------------------------------------------------------------------------------------------------------------
# Redrock


def test_redrock_pages_sorts_limits_and_is_read_only(pp):
    names = [r["Username"] for r in pp.query("SELECT Username FROM User", SortBy="Username")]
    assert names == sorted(names) and len(names) == 5
    page2 = pp.ok("/Redrock/query", {"Script": "SELECT Username FROM User", "Args": {"PageNumber": 2, "PageSize": 2, "SortBy": "Username"}})
    assert page2["Count"] == 5 and [r["Row"]["Username"] for r in page2["Results"]] == names[2:4]
    desc = pp.query("SELECT Username FROM User", SortBy="Username", Direction="False", Limit=2)
    assert [r["Username"] for r in desc] == sorted(names, reverse=True)[:2]
    lower_args = pp.ok("/Redrock/query", {"Script": "SELECT Username FROM User", "args": {"PageSize": 1}})
    assert len(lower_args["Results"]) == 1
    apps = pp.query("SELECT Name, ProvCapable, ProvConfigured, ProvSettingEnabled FROM Application WHERE Name = 'Office 365'")
    assert apps == [{"Name": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": True}]
    error_id, message = pp.error("/Redrock/query", {"Script": "DELETE FROM User"})
    assert error_id == "QueryFailed" and "readonly" in message.replace(" ", "").lower()
    assert pp.error("/Redrock/query", {"Script": "SELECT Nope FROM User"})[0] == "QueryFailed"
    # The Azure AD directory mirrors the Graph seed's 5 users.
    assert len(pp.query("SELECT InternalName FROM DsUsers WHERE DirectoryServiceUuid = '3f4a7c21-5d9e-4b8a-a6c2-1e0f9d8b7a63'")) == 5


# ---------------------------------------------------------------------------------------------------------------------
# Users, attributes, directories


def test_create_user_rules(sandbox, pp):
    new_id = pp.ok("/CDirectoryService/CreateUser", {"Name": "jane@northwindacct.com", "Mail": "jane@northwindacct.com",
                                                     "DisplayName": "Jane", "Password": "Passw0rd-Good", "InEverybodyRole": "true"})
    attrs = pp.ok("/UserMgmt/GetUserAttributes", {"ID": new_id})
    assert attrs["Name"] == "jane@northwindacct.com" and attrs["ForcePasswordChangeNext"] is True and attrs["SourceDsType"] == "CDS"
    state = sandbox.control("GET", "pp/state")
    assert [o["user"] for o in state["outbox"]] == ["jane@northwindacct.com"]  # SendEmailInvite defaults to true
    assert pp.error("/CDirectoryService/CreateUser", {"Name": "JANE@northwindacct.com"}) == (
        "DuplicateUserName", "User name JANE@northwindacct.com is already in use.")
    assert pp.error("/CDirectoryService/CreateUser", {"Name": "kim@contoso.com"})[0] == "InvalidLoginSuffix"
    assert pp.error("/CDirectoryService/CreateUser", {"Name": "kim@northwindacct.com", "Password": "short"})[0] == "PasswordPolicy"
    pp.ok("/CDirectoryService/ChangeUser", {"ID": new_id, "DisplayName": "Jane C", "MobileNumber": "+61412000999"})
    assert pp.query("SELECT DisplayName, MobileNumber FROM User WHERE ID = '%s'" % new_id) == [
        {"DisplayName": "Jane C", "MobileNumber": "+61412000999"}]
    pp.ok("/UserMgmt/RemoveUsers", {"Users": [new_id]})
    assert pp.query("SELECT ID FROM User WHERE ID = '%s'" % new_id) == []


def test_additional_attributes(pp):
    schema = pp.ok("/ExtData/GetSchema", {"Table": "users"})
    assert schema["ColumnLimit"] == 10
    assert [c["Name"] for c in schema["Columns"]] == ["O365_ProxyAddresses", "Cost_Centre", "Staff_Number"]
    assert pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH}) == {
        "O365_ProxyAddresses": "SMTP:sarah.jones@northwindacct.com", "Cost_Centre": "AUD-100", "Staff_Number": None}
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Staff_Number": 7}})
    values = pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})
    assert values["Staff_Number"] == 7 and values["Cost_Centre"] == "AUD-100"
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Cost_Centre": None}})
    assert pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})["Cost_Centre"] is None
    assert pp.error("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Staff_Number": "x"}})[0] == "InvalidColumnValue"
    assert pp.error("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Nope_X": "x"}})[0] == "ColumnNotFound"
    assert pp.error("/ExtData/UpdateSchema", {"Table": "users", "Columns": {"New_Col": {"Type": "Text"}}})[0] == "InvalidSchema"


def test_azure_ad_directory_mirrors_graph_and_invites(sandbox, pp):
    graph_id = sandbox.seed([{"userPrincipalName": "sam.lee@northwindacct.com", "displayName": "Sam Lee", "mail": "sam@northwindacct.com",
                              "mobilePhone": "+61412000444"}])["created"][0]
    directories = [r["Row"] for r in pp.ok("/Core/GetDirectoryServices")["Results"]]
    aad = [d["directoryServiceUuid"] for d in directories if d["DisplayName"] == "Azure Active Directory"]
    found = pp.ok("/UserMgmt/DirectoryServiceQuery", {"directoryServices": aad,
                                                      "user": '{"_and":[{"_or":[{"EMail":"SAM@northwindacct.com"},{"SystemName":"x"}]},'
                                                              '{"ObjectType":"user"}]}'})
    rows = [r["Row"] for r in found["User"]["Results"]]
    assert [(r["InternalName"], r["SystemName"]) for r in rows] == [(graph_id, "sam.lee@northwindacct.com")]
    pp.ok("/UserMgmt/InviteUsers", {"Entities": [{"Type": "User", "Guid": graph_id, "Name": "sam.lee@northwindacct.com"}],
                                    "EmailInvite": True, "Role": "Tax Team"})
    assert pp.query("SELECT ID, Username, SourceDsType, Status, MobileNumber FROM User WHERE Username = 'sam.lee@northwindacct.com'") == [
        {"ID": graph_id, "Username": "sam.lee@northwindacct.com", "SourceDsType": "AzureAD", "Status": "Invited", "MobileNumber": "+61412000444"}]
    members = [r["Row"]["Name"] for r in pp.ok("/Roles/GetRoleMembers", {"Name": TAX_ROLE})["Results"]]
    assert "sam.lee@northwindacct.com" in members
    assert pp.error("/CDirectoryService/ChangeUser", {"ID": graph_id, "DisplayName": "x"})[0] == "ReadOnlyDirectory"
    assert pp.error("/UserMgmt/InviteUsers", {"Entities": [{"Type": "User", "Guid": "00000000-0000-0000-0000-000000000001"}]})[0] == "UserNotFound"


# ---------------------------------------------------------------------------------------------------------------------
# Roles and rights


def test_roles_members_and_everybody(pp):
    pp.ok("/Roles/UpdateRole", {"Name": TAX_ROLE, "Users": {"Add": [SARAH], "Delete": [TOM]}})
    members = sorted(r["Row"]["Name"] for r in pp.ok("/Roles/GetRoleMembers", {"Name": TAX_ROLE})["Results"])
    assert members == ["priya.patel@northwindacct.com", "sarah.jones@northwindacct.com"]
    pp.ok("/SaasManage/AddUsersAndGroupsToRole", {"Name": TAX_ROLE, "Users": ["tom.baker@northwindacct.com"]})
    pp.ok("/SaasManage/RemoveUsersAndGroupsFromRole", {"Name": TAX_ROLE, "Users": [SARAH]})
    old_style = pp.ok("/SaasManage/GetRoleMembers", params={"name": TAX_ROLE})
    assert sorted(r["Row"]["Name"] for r in old_style["Results"]) == ["priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]
    everybody = pp.ok("/Roles/GetRoleMembers", {"Name": "Everybody"})
    assert everybody["Count"] == 5
    assert pp.error("/Roles/UpdateRole", {"Name": "Everybody", "Users": {"Add": [SARAH]}}) == (
        "RoleNotModifiable", "The Everybody role cannot be modified.")
    assert pp.error("/Roles/UpdateRole", {"Name": "nope", "Users": {"Add": [SARAH]}})[0] == "RoleNotFound"
    assert pp.error("/Roles/UpdateRole", {"Name": TAX_ROLE, "Users": {"Add": ["ghost@northwindacct.com"]}})[0] == "UserNotFound"
    roles = pp.ok("/UserMgmt/GetUsersRolesAndAdministrativeRights", params={"id": TOM})
    assert sorted(r["Row"]["RoleName"] for r in roles["Results"]) == ["Everybody", "Office 365", "Portal Access", "Tax Team"]


def test_admin_rights_are_enforced(sandbox):
    created = sandbox.control("POST", "pp/seed", json={"roles": [{"Name": "Readers", "AdminRights": ["Read Only System Administration"]}],
                                                       "clients": [{"client_id": "reader@northwindacct.com", "Roles": ["Readers"]}]})
    secret = created["clients"][0]["client_secret"]
    reader = PP(sandbox, bearer=token(sandbox, "reader@northwindacct.com", secret).json()["access_token"])
    assert reader.query("SELECT Name FROM Role WHERE Name = 'Tax Team'") == [{"Name": "Tax Team"}]
    error_id, message = reader.error("/CDirectoryService/CreateUser", {"Name": "kim@northwindacct.com"})
    assert error_id == "Unauthorized" and "User Management" in message
    assert reader.error("/Provisioning/StartSync", {"AppKey": OFFICE365_APP})[0] == "Unauthorized"


# ---------------------------------------------------------------------------------------------------------------------
# Provisioning


def new_in_scope(pp, name="jane@northwindacct.com", display="Jane Citizen", proxy="SMTP:jane@northwindacct.com;smtp:j@northwindacct.com"):
    user_id = pp.ok("/CDirectoryService/CreateUser", {"Name": name, "DisplayName": display, "SendEmailInvite": False})
    if proxy:
        pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": user_id, "Columns": {"O365_ProxyAddresses": proxy}})
    pp.ok("/Roles/UpdateRole", {"Name": OFFICE365_ROLE, "Users": {"Add": [user_id]}})
    return user_id


def run_job(pp, body=None):
    job_id = pp.ok("/Provisioning/StartSync", dict({"AppKey": OFFICE365_APP}, **(body or {})))["JobId"]
    return pp.ok("/Provisioning/GetJobStatus", {"JobId": job_id})


def test_sync_creates_licenses_addresses_and_disables_leavers(sandbox, pp):
    service_account(sandbox)
    jane = new_in_scope(pp)
    pp.ok("/Roles/UpdateRole", {"Name": OFFICE365_ROLE, "Users": {"Delete": [SARAH]}})
    job = run_job(pp)
    assert job["State"] == "Succeeded" and job["EndTime"] and job["Failures"] == []
    assert job["Summary"] == {"Created": 1, "Updated": 0, "Disabled": 1, "Deleted": 0, "Unchanged": 1, "Failed": 0}
    created = graph_user(sandbox, "jane@northwindacct.com")
    assert created["displayName"] == "Jane Citizen" and created["givenName"] == "Jane" and created["surname"] == "Citizen"
    assert [lic["skuId"] for lic in created["assignedLicenses"]] == [PREMIUM] and created["usageLocation"] == "AU"
    assert created["proxyAddresses"][0] == "SMTP:jane@northwindacct.com" and "smtp:j@northwindacct.com" in created["proxyAddresses"]
    import base64
    import uuid
    assert str(uuid.UUID(bytes_le=base64.b64decode(created["onPremisesImmutableId"]))) == jane
    assert graph_user(sandbox, "sarah.jones@northwindacct.com")["accountEnabled"] is False
    again = run_job(pp)
    assert again["Summary"] == {"Created": 0, "Updated": 0, "Disabled": 0, "Deleted": 0, "Unchanged": 2, "Failed": 0}
    history = pp.ok("/Provisioning/GetJobHistory", {"AppKey": OFFICE365_APP, "Limit": 10})["Results"]
    manual = [j for j in history if j["JobId"] in (job["JobId"], again["JobId"])]
    assert [j["JobId"] for j in manual] == [again["JobId"], job["JobId"]]  # newest first


def test_sync_reports_no_licence_and_create_failures(sandbox, pp):
    service_account(sandbox)
    sku = [s for s in sandbox.state()["skus"] if s["skuId"] == PREMIUM][0]
    free = sku["prepaidUnits"]["enabled"] - sku["consumedUnits"]
    sandbox.seed([{"userPrincipalName": "seat%02d@northwindacct.com" % i, "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}
                  for i in range(free)])
    new_in_scope(pp)
    new_in_scope(pp, name="old@northwind-legacy.com", display="Old Domain", proxy=None)
    job = run_job(pp)
    assert job["State"] == "CompletedWithErrors"
    assert job["Summary"]["Created"] == 1 and job["Summary"]["Failed"] == 2
    failures = {f["User"]: f for f in job["Failures"]}
    assert failures["jane@northwindacct.com"]["Reason"] == "NoLicenseAvailable"
    assert "no O365_BUSINESS_PREMIUM licence is available (25 bought, 25 in use)" in failures["jane@northwindacct.com"]["Message"]
    assert failures["old@northwind-legacy.com"]["Reason"] == "CreateFailed"
    assert failures["old@northwind-legacy.com"]["Message"].startswith("User old@northwind-legacy.com could not be created in Office 365. "
                                                                      "Message: The domain portion of the userPrincipalName")
    assert graph_user(sandbox, "jane@northwindacct.com")["assignedLicenses"] == []


def test_sync_fails_without_a_global_admin_service_account(sandbox, pp):
    new_in_scope(pp)
    job = run_job(pp)
    assert job["State"] == "Failed" and job["Summary"]["Failed"] == 1 and job["Failures"][0]["User"] is None
    assert job["Failures"][0]["Reason"] == "ServiceAccountMissing"
    assert graph_user(sandbox, "jane@northwindacct.com") is None
    service_account(sandbox, global_admin=False)
    job = run_job(pp)
    roles_emulated = job["State"] == "Failed"
    if roles_emulated:
        assert job["Failures"][0]["Reason"] == "ServiceAccountNotGlobalAdmin"


def test_start_sync_errors(pp):
    assert pp.error("/Provisioning/StartSync", {"AppKey": DROPBOX_APP})[0] == "ProvisioningNotConfigured"
    assert pp.error("/Provisioning/StartSync", {"AppKey": "nope"})[0] == "ApplicationNotFound"
    assert pp.error("/Provisioning/StartSync", {"AppKey": OFFICE365_APP, "Users": ["nope"]})[0] == "UserNotFound"
    assert pp.error("/Provisioning/GetJobStatus", {"JobId": "nope"})[0] == "JobNotFound"


def test_job_duration_and_the_engine_runs_without_polling(sandbox, pp):
    service_account(sandbox)
    new_in_scope(pp)
    sandbox.configure(pp_sync_duration_s=1)
    job_id = pp.ok("/Provisioning/StartSync", {"AppKey": OFFICE365_APP, "Users": [SARAH]})["JobId"]
    first = pp.ok("/Provisioning/GetJobStatus", {"JobId": job_id})
    assert first["State"] == "Running" and first["EndTime"] is None
    second = pp.ok("/Provisioning/StartSync", {"AppKey": OFFICE365_APP})["JobId"]
    assert pp.ok("/Provisioning/GetJobStatus", {"JobId": second})["State"] == "Queued"  # one job at a time per app
    # nobody polls: the timer finishes both jobs and the second creates the user
    wait_for(lambda: graph_user(sandbox, "jane@northwindacct.com"))
    assert pp.ok("/Provisioning/GetJobStatus", {"JobId": job_id})["Summary"]["Unchanged"] == 1


def test_role_membership_change_queues_an_automatic_sync(sandbox, pp):
    service_account(sandbox)
    sandbox.configure(pp_auto_sync_delay_s=0.5)
    jane = new_in_scope(pp)
    pp.ok("/Roles/UpdateRole", {"Name": OFFICE365_ROLE, "Users": {"Add": [PRIYA]}})
    jobs = sandbox.control("GET", "pp/state")["jobs"]
    assert [(j["Trigger"], sorted(j["Users"])) for j in jobs] == [("RoleMembershipChange", sorted([jane, PRIYA]))]  # changes join
    wait_for(lambda: graph_user(sandbox, "priya.patel@northwindacct.com"))
    assert graph_user(sandbox, "jane@northwindacct.com") is not None
    done = sandbox.control("GET", "pp/state")["jobs"][0]
    assert done["State"] == "Succeeded" and done["Summary"]["Created"] == 2


def test_reset_restores_the_seed_and_keeps_the_client(sandbox, pp):
    new_in_scope(pp)
    sandbox.reset()
    fresh = PP(sandbox)
    assert fresh.query("SELECT Username FROM User WHERE Username = 'jane@northwindacct.com'") == []
    state = sandbox.control("GET", "pp/state")
    assert state["jobs"] == [] and state["outbox"] == []
    assert graph_user(sandbox, "tom.baker@northwindacct.com")["onPremisesImmutableId"]


# ---------------------------------------------------------------------------------------------------------------------
# ExtData values as strings


def test_extdata_takes_strings_for_typed_columns(pp):
    columns = {c["Name"]: {k: c[k] for k in ("Type", "Title", "Description")} for c in pp.ok("/ExtData/GetSchema", {"Table": "users"})["Columns"]}
    columns["Is_Partner"] = {"Type": "Boolean", "Title": "Partner", "Description": "Partner of the firm"}
    pp.ok("/ExtData/UpdateSchema", {"Table": "users", "Columns": columns})
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Staff_Number": "42", "Is_Partner": "True"}})
    values = pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})
    assert values["Staff_Number"] == 42 and values["Is_Partner"] is True
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Staff_Number": "", "Is_Partner": "false"}})
    values = pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})
    assert values["Staff_Number"] is None and values["Is_Partner"] is False  # "" clears, as the Go SDK clears
    for bad in ({"Staff_Number": "4.5"}, {"Is_Partner": "yes"}, {"Staff_Number": True}, {"Cost_Centre": 12}):
        assert pp.error("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": bad})[0] == "InvalidColumnValue", bad


# ---------------------------------------------------------------------------------------------------------------------
# The "real tenant variants" profile (realism knob pp_profile)


def variants(sandbox):
    sandbox.configure(pp_profile="real_tenant_variants")


def test_variants_list_fds_and_inactive_directories(sandbox, pp):
    default = [r["Row"] for r in pp.ok("/Core/GetDirectoryServices")["Results"]]
    assert [d["Service"] for d in default] == ["CDS", "AzureAD"]
    variants(sandbox)
    rows = [r["Row"] for r in pp.ok("/Core/GetDirectoryServices")["Results"]]
    assert [(d["Service"], d["Status"], d["StatusDisplay"]) for d in rows] == [
        ("CDS", "Active", "Online"), ("FDS", "Active", "Online"), ("AdProxy", "Inactive", "Offline"), ("GDS", "Inactive", "Offline"),
        ("AAD", "Active", "Online")]
    assert rows[1]["directoryServiceUuid"] == "c30b30b1-0b46-49ac-8d99-f6279eed7999" and rows[2]["Forest"] == rows[2]["Config"]
    aad = [d["directoryServiceUuid"] for d in rows if d["DisplayName"] == "Azure Active Directory"]
    found = pp.ok("/UserMgmt/DirectoryServiceQuery", {"directoryServices": [u.upper() for u in aad],
                                                      "user": '{"SystemName":"tom.baker@northwindacct.com"}'})
    assert [r["Row"]["ServiceType"] for r in found["User"]["Results"]] == ["AAD"]
    assert {r["ServiceType"] for r in pp.query("SELECT ServiceType FROM DsUsers WHERE DirectoryServiceUuid = '%s'" % aad[0])} == {"AAD"}


def test_variants_user_roles_rows_carry_name(sandbox, pp):
    row = pp.ok("/UserMgmt/GetUsersRolesAndAdministrativeRights?id=%s" % SARAH)["Results"][0]["Row"]
    assert "RoleName" in row and "Name" not in row
    variants(sandbox)
    rows = [r["Row"] for r in pp.ok("/UserMgmt/GetUsersRolesAndAdministrativeRights?id=%s" % SARAH)["Results"]]
    assert rows and all("Name" in r and "RoleName" not in r for r in rows)
    assert "Office 365" in [r["Name"] for r in rows]


def test_variants_redrock_count_is_the_page_size(sandbox, pp):
    args = {"PageNumber": 2, "PageSize": 2, "SortBy": "Username"}
    default = pp.ok("/Redrock/query", {"Script": "SELECT Username FROM User", "Args": args})
    assert (default["Count"], default["FullCount"], len(default["Results"])) == (5, 5, 2)
    variants(sandbox)
    page = pp.ok("/Redrock/query", {"Script": "SELECT Username FROM User", "Args": args})
    assert (page["Count"], page["FullCount"], len(page["Results"])) == (2, 5, 2)
    last = pp.ok("/Redrock/query", {"Script": "SELECT Username FROM User", "Args": dict(args, PageNumber=3)})
    assert (last["Count"], last["FullCount"]) == (1, 5)


def test_variants_duplicate_user_has_no_error_id(sandbox, pp):
    body = {"Name": "sarah.jones@northwindacct.com"}
    assert pp.error("/CDirectoryService/CreateUser", body) == ("DuplicateUserName", "User name sarah.jones@northwindacct.com is already in use.")
    variants(sandbox)
    assert pp.error("/CDirectoryService/CreateUser", body) == (None, "User name sarah.jones@northwindacct.com is already in use.")


def test_variants_have_no_job_api(sandbox, pp):
    assert pp.ok("/Provisioning/GetJobHistory", {"AppKey": OFFICE365_APP, "Limit": 1}) is not None
    variants(sandbox)
    for path in ("/Provisioning/StartSync", "/Provisioning/GetJobStatus", "/provisioning/getjobhistory"):
        answer = pp.raw(path, {"AppKey": OFFICE365_APP})
        assert answer.status_code == 404 and answer.json()["success"] is False, path
    with session(sandbox) as http:
        doc = http.get(sandbox.env["PP_URL"] + "/vfslow/lib/api/swagger.json", timeout=30).json()
    assert not [path for path in doc["paths"] if path.startswith("/Provisioning/")] and "/Redrock/query" in doc["paths"]
    # A role membership change still syncs by itself (reference section 8): the automatic job is queued.
    pp.ok("/Roles/UpdateRole", {"Name": OFFICE365_ROLE, "Users": {"Add": [PRIYA]}})
    assert [job["Trigger"] for job in sandbox.control("GET", "pp/state")["jobs"]][-1:] == ["RoleMembershipChange"]
    with pytest.raises(SandboxError):
        sandbox.configure(pp_profile="other")


@pytest.mark.parametrize("profile", ["default", "real_tenant_variants"])
def test_the_collections_redrock_reader_reads_every_row_whichever_count_the_tenant_sends(sandbox, profile):
    """Count as the total (default) and as the page's rows (variants): the client's pages add up to every user, at every page size."""
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectClient
    sandbox.configure(pp_profile=profile)
    env = sandbox.env
    expected = sorted(u["Name"] for u in sandbox.control("GET", "pp/state")["users"])
    with session(sandbox) as http:
        client = PracticeProtectClient(http, env["PP_URL"], env["PP_APP_ID"], env["PP_CLIENT_ID"], env["PP_CLIENT_SECRET"])
        for page_size in range(1, len(expected) + 2):
            rows = client.query("SELECT Username FROM User", page_size=page_size, sort_by="Username")
            assert sorted(r["Username"] for r in rows) == expected, page_size


def test_variants_answer_extdata_values_as_strings(sandbox, pp):
    """Stored typed either way; the variants read every value back as a string, as CyberArk's Go SDK reads them."""
    pp.ok("/ExtData/SetColumns", {"Table": "users", "ID": SARAH, "Columns": {"Staff_Number": "4711", "Cost_Centre": "T-1"}})
    assert pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})["Staff_Number"] == 4711
    variants(sandbox)
    values = pp.ok("/ExtData/GetColumns", {"Table": "users", "ID": SARAH})
    assert values["Staff_Number"] == "4711" and values["Cost_Centre"] == "T-1"


def test_the_job_api_knob_takes_the_job_api_away_on_the_default_profile(sandbox, pp):
    sandbox.configure(pp_job_api=False)
    answer = pp.raw("/Provisioning/StartSync", {"AppKey": OFFICE365_APP})
    assert answer.status_code == 404 and answer.json()["success"] is False
    assert [r["Row"]["Service"] for r in pp.ok("/Core/GetDirectoryServices")["Results"]] == ["CDS", "AzureAD"]  # the rest is default
    with session(sandbox) as http:
        doc = http.get(sandbox.env["PP_URL"] + "/vfslow/lib/api/swagger.json", timeout=30).json()
    assert not [path for path in doc["paths"] if path.startswith("/Provisioning/")]
    sandbox.configure(pp_job_api=True)
    assert "JobId" in pp.ok("/Provisioning/StartSync", {"AppKey": OFFICE365_APP})
    with pytest.raises(SandboxError):
        sandbox.configure(pp_job_api="no")
