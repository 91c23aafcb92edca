# -*- coding: utf-8 -*-
"""pp_user's main() against canned Practice Protect answers ({success, Result} envelopes)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import pp_user

NAME = "jane.citizen@northwindacct.com"
JANE_ID = "c2f1a9e4-3b7d-4e8a-9f6c-1d2e3f4a5b6c"
AAD_USER_ID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"
AAD_UUID = "3f4a7c21-5d9e-4b8a-a6c2-1e0f9d8b7a63"
CDS_UUID = "09b9a9b0-6ce8-465f-ab03-65766d33b05e"
PROXY = "SMTP:jane@northwindacct.com;smtp:jane.citizen@northwindacct.com"
COLUMNS = [{"Name": "O365_ProxyAddresses", "Title": "proxyAddresses", "Type": "Text", "UserEditable": False, "Description": "E-mail addresses"},
           {"Name": "Cost_Centre", "Title": "Cost Centre", "Type": "Text", "UserEditable": False, "Description": "Finance cost centre"}]
DIRECTORIES = [{"Service": "CDS", "DisplayName": "Practice Protect Directory", "directoryServiceUuid": CDS_UUID, "Status": "Active"},
               {"Service": "AzureAD", "DisplayName": "Azure Active Directory", "directoryServiceUuid": AAD_UUID, "Status": "Active"}]


def jane_row(**changes):
    row = {"ID": JANE_ID, "Username": NAME, "DisplayName": "Jane Citizen", "Email": NAME, "MobileNumber": "+61412345678", "SourceDsType": "CDS",
           "Status": "Active"}
    row.update(changes)
    return row


def tenant(fake, rows=(), values=None, attributes=None):
    fake.pp("/Core/GetCdsAliasesForTenant", fake.envelope(fake.rows([{"ID": "northwindacct.com", "Default": True},
                                                                     {"ID": "northwind-legacy.com", "Default": False}])))
    fake.redrock("User", list(rows))
    fake.pp("/ExtData/GetSchema", fake.envelope({"ColumnLimit": 30, "Columns": COLUMNS}))
    fake.pp("/ExtData/GetColumns", fake.envelope(dict({"O365_ProxyAddresses": None, "Cost_Centre": None}, **(values or {}))))
    fake.pp("/UserMgmt/GetUserAttributes", fake.envelope(dict({"Uuid": JANE_ID, "Name": NAME, "State": "None", "Description": None},
                                                              **(attributes or {}))))
    fake.pp("/Core/GetDirectoryServices", fake.envelope(fake.rows(DIRECTORIES)))
    for path in ("/CDirectoryService/CreateUser", "/CDirectoryService/ChangeUser", "/ExtData/SetColumns", "/UserMgmt/RemoveUsers",
                 "/CDirectoryService/SetUserState", "/UserMgmt/InviteUsers", "/UserMgmt/ResetUserPassword"):
        fake.pp(path, fake.envelope(JANE_ID if path.endswith("CreateUser") else None))


def paths(requests):
    return [r.path for r in requests]


def test_create_sends_create_user_then_the_attributes(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_user, dict(pp_args, user=NAME, display_name="Jane Citizen", mail=NAME, mobile_number="0412 345 678",
                                      phone_region="AU", proxy_addresses=["jane@northwindacct.com", "jane.citizen@northwindacct.com"]))

    assert result["changed"] is True and result["action"] == "create"
    create, columns = fake.writes()
    assert (create.path, columns.path) == ("/CDirectoryService/CreateUser", "/ExtData/SetColumns")
    body = create.json
    assert sorted(body) == ["DisplayName", "ForcePasswordChangeNext", "InEverybodyRole", "Mail", "MobileNumber", "Name", "Password",
                            "PasswordNeverExpire", "SendEmailInvite", "SendSmsInvite"]
    assert (body["Name"], body["Mail"], body["MobileNumber"], body["SendEmailInvite"]) == (NAME, NAME, "+61412345678", False)
    assert columns.json == {"Table": "users", "ID": JANE_ID, "Columns": {"O365_ProxyAddresses": PROXY}}
    assert result["user"]["ID"] == JANE_ID and result["user"]["Attributes"] == {"O365_ProxyAddresses": PROXY}
    # The client credentials went to the token endpoint; every call carries the token and the native-client headers.
    (token,) = fake.sent("pp_token")
    assert token.path == "/oauth2/token/%s" % pp_args["pp_app_id"]
    assert token.form == {"grant_type": "client_credentials", "scope": "all"}
    assert token.auth == (pp_args["pp_client_id"], pp_args["pp_client_secret"])
    assert all(r.method == "POST" and r.headers["Authorization"] == "Bearer pp-access-token-eyJhbGciOi.fake"
               and r.headers["X-CENTRIFY-NATIVE-CLIENT"] == "true" for r in fake.sent("pp"))
    assert result["pp_requests"] == len(fake.sent("pp")) + 1
    assert body["Password"] not in run_module.output and pp_args["pp_client_secret"] not in run_module.output
    assert "password" not in result


def test_a_user_as_asked_changes_nothing(fake, run_module, pp_args):
    tenant(fake, rows=[jane_row()], values={"O365_ProxyAddresses": PROXY})

    result = run_module(pp_user, dict(pp_args, user=NAME, display_name="Jane Citizen", mobile_number="+61 412 345 678",
                                      proxy_addresses=["jane@northwindacct.com", "jane.citizen@northwindacct.com"]))

    assert result["changed"] is False and result["action"] == "none" and result["plan"] == []
    assert fake.writes() == []
    redrock = [r for r in fake.sent("pp") if r.path == "/Redrock/query"][0]
    assert redrock.json["Script"] == ("SELECT ID, Username, DisplayName, Email, MobileNumber, SourceDsType, Status FROM User WHERE "
                                      "lower(Username) IN ('jane.citizen@northwindacct.com') ORDER BY Username")
    assert redrock.json["Args"]["PageSize"] == 1000


def test_check_mode_plans_the_create_and_sends_only_reads(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_user, dict(pp_args, user=NAME, display_name="Jane Citizen"), check_mode=True)

    assert result["changed"] is True and result["action"] == "create"
    assert result["plan"][0]["path"] == "/CDirectoryService/CreateUser" and "Password" in result["plan"][0]["fields"]
    assert fake.writes() == []
    assert paths(fake.sent("pp")) == ["/Core/GetCdsAliasesForTenant", "/Redrock/query"]


def test_diff_of_an_update_and_only_the_change_is_sent(fake, run_module, pp_args):
    tenant(fake, rows=[jane_row()], values={"Cost_Centre": "TAX-01"})

    result = run_module(pp_user, dict(pp_args, user=NAME, display_name="Jane Citizen-Smith"), diff=True)

    assert result["changed"] is True and result["action"] == "update"
    (change,) = fake.writes()
    assert change.path == "/CDirectoryService/ChangeUser" and change.json == {"DisplayName": "Jane Citizen-Smith", "ID": JANE_ID}
    assert result["diff"]["before"]["DisplayName"] == "Jane Citizen" and result["diff"]["after"]["DisplayName"] == "Jane Citizen-Smith"
    assert result["diff"]["before"]["Attributes"] == result["diff"]["after"]["Attributes"] == {"Cost_Centre": "TAX-01"}


def test_disabling_a_cloud_user_sets_its_state(fake, run_module, pp_args):
    tenant(fake, rows=[jane_row()])

    result = run_module(pp_user, dict(pp_args, user=NAME, enabled=False))

    assert result["changed"] is True and result["action"] == "disable"
    (state,) = fake.writes()
    assert state.path == "/CDirectoryService/SetUserState" and state.json == {"ID": JANE_ID, "State": "Disabled"}
    assert [r.json for r in fake.sent("pp") if r.path == "/UserMgmt/GetUserAttributes"] == [{"ID": JANE_ID}]


def test_absent_removes_the_user(fake, run_module, pp_args):
    tenant(fake, rows=[jane_row()])

    result = run_module(pp_user, dict(pp_args, user=NAME, state="absent"))

    assert result["changed"] is True and result["action"] == "delete"
    assert [(r.path, r.json) for r in fake.writes()] == [("/UserMgmt/RemoveUsers", {"Users": [JANE_ID]})]
    assert result["user"]["ID"] == JANE_ID


def test_a_source_directory_user_is_invited_once_and_read_back(fake, run_module, pp_args):
    tenant(fake)
    invited = []
    row = {"InternalName": AAD_USER_ID, "SystemName": NAME, "DisplayName": "Jane Citizen", "EMail": NAME, "ServiceType": "AzureAD",
           "ServiceInstance": AAD_UUID, "ObjectType": "user"}
    fake.pp("/UserMgmt/DirectoryServiceQuery", fake.envelope({"User": {"Results": [{"Row": row}], "Count": 1}}))
    fake.pp("/UserMgmt/InviteUsers", lambda request: invited.append(request) or fake.envelope(None))
    fake.pp("/Redrock/query", lambda request: fake.envelope(fake.rows([jane_row(ID=AAD_USER_ID, SourceDsType="AzureAD")] if invited else [])))

    result = run_module(pp_user, dict(pp_args, user=NAME, source="directory"))

    assert result["changed"] is True and result["action"] == "invite"
    (invite,) = fake.writes()
    assert invite.json == {"Entities": [{"Type": "User", "Guid": AAD_USER_ID, "Name": NAME}], "EmailInvite": True, "SmsInvite": False,
                           "GroupInvite": True}
    query = [r for r in fake.sent("pp") if r.path == "/UserMgmt/DirectoryServiceQuery"][0]
    assert query.json["directoryServices"] == [AAD_UUID]
    assert result["user"]["ID"] == AAD_USER_ID


def test_a_refused_write_names_the_admin_right(fake, run_module, pp_args):
    tenant(fake)
    fake.pp("/CDirectoryService/CreateUser", fake.pp_error("You are not authorized to perform this operation.", "Unauthorized"))

    result = run_module(pp_user, dict(pp_args, user=NAME, display_name="Jane Citizen"))

    assert result["failed"] is True and result["error_code"] == "Unauthorized" and result["path"] == "/CDirectoryService/CreateUser"
    assert result["msg"] == ("You are not authorized to perform this operation. The Practice Protect client's role lacks an admin right for "
                             "/CDirectoryService/CreateUser; see docs/permissions.md.")


def test_a_refused_read_names_the_right_this_module_needs(fake, run_module, pp_args):
    tenant(fake)
    fake.pp("/Redrock/query", fake.pp_error("You are not authorized to perform this operation.", "Unauthorized"))

    result = run_module(pp_user, dict(pp_args, user=NAME))

    assert result["failed"] is True and result["path"] == "/Redrock/query"
    assert result["msg"].endswith("(any admin right allows the reads); this module needs the User Management admin right; "
                                  "see docs/permissions.md.")
    assert fake.writes() == []


def test_refused_client_credentials_never_show_the_secret(fake, run_module, pp_args):
    fake.pp_token_route((400, {"error": "invalid_client", "error_description": "Client authentication failed."}))

    result = run_module(pp_user, dict(pp_args, user=NAME))

    assert result["failed"] is True and result["error_code"] == "invalid_client" and result["status"] == 400
    assert result["msg"].startswith("Practice Protect refused the OAuth2 client credentials for app %s (invalid_client: Client "
                                    "authentication failed.)." % pp_args["pp_app_id"])
    assert paths(fake.requests) == ["/oauth2/token/%s" % pp_args["pp_app_id"]]
    assert pp_args["pp_client_secret"] not in run_module.output


def test_bad_input_is_refused_before_any_request(fake, run_module, pp_args):
    result = run_module(pp_user, dict(pp_args, user="jane citizen@northwindacct.com"))
    assert result["failed"] is True and result["field"] == "user"
    assert result["msg"].startswith("user 'jane citizen@northwindacct.com' contains characters Practice Protect does not allow")
    assert fake.requests == []

    result = run_module(pp_user, dict(pp_args, user=NAME, source="directory", password="Xk9!mQ2#vL7p"))
    assert result["failed"] is True and result["field"] == "password"
    assert fake.requests == [] and "Xk9!mQ2#vL7p" not in run_module.output

    result = run_module(pp_user, dict(pp_args, user=NAME, return_password=True))
    assert result["failed"] is True and result["field"] == "return_password"
    assert fake.requests == []


def test_an_unknown_login_suffix_is_refused_before_any_write(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_user, dict(pp_args, user="jane@contoso.com"))

    assert result["failed"] is True and result["msg"] == ("user jane@contoso.com: contoso.com is not a login suffix of this Practice Protect "
                                                          "tenant. Login suffixes: northwindacct.com, northwind-legacy.com.")
    assert paths(fake.sent("pp")) == ["/Core/GetCdsAliasesForTenant"]


def test_a_password_given_and_the_secret_never_reach_the_output(fake, run_module, pp_args):
    tenant(fake, rows=[jane_row()])
    password = "Xk9!mQ2#vL7p-Welcome"

    result = run_module(pp_user, dict(pp_args, user=NAME, password=password, update_password="always"), diff=True)

    assert result["changed"] is True
    assert [(r.path, r.json) for r in fake.writes()] == [("/UserMgmt/ResetUserPassword", {"ID": JANE_ID, "newPassword": password})]
    assert result["plan"] == [{"op": "password", "method": "POST", "path": "/UserMgmt/ResetUserPassword", "fields": ["ID", "newPassword"]}]
    assert password not in run_module.output and pp_args["pp_client_secret"] not in run_module.output
