# -*- coding: utf-8 -*-
"""pp_role_member's main() against canned Practice Protect answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import pp_role_member

JANE_ID = "c2f1a9e4-3b7d-4e8a-9f6c-1d2e3f4a5b6c"
TOM_ID = "d3a2b0f5-4c8e-4f9b-8a7d-2e3f4a5b6c7d"
OLIVER_ID = "e4b3c1a6-5d9f-4a0c-9b8e-3f4a5b6c7d8e"
SARAH_ID = "f5c4d2b7-6e0a-4b1d-8c9f-4a5b6c7d8e9f"
USERS = [{"ID": JANE_ID, "Username": "jane.citizen@northwindacct.com", "DisplayName": "Jane Citizen", "Email": "jane.citizen@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"},
         {"ID": TOM_ID, "Username": "tom.baker@northwindacct.com", "DisplayName": "Tom Baker", "Email": "tom.baker@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"},
         {"ID": OLIVER_ID, "Username": "oliver.brown@northwindacct.com", "DisplayName": "Oliver Brown", "Email": "oliver.brown@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"},
         {"ID": SARAH_ID, "Username": "sarah.jones@northwindacct.com", "DisplayName": "Sarah Jones", "Email": "sarah.jones@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"}]
ROLES = [{"ID": "sysadmin", "Name": "System Administrator", "Description": "", "ReadOnly": True},
         {"ID": "everybody", "Name": "Everybody", "Description": "Every user", "ReadOnly": True},
         {"ID": "a1b2c3d4_portal", "Name": "Portal Access", "Description": "Sign in to the portal", "ReadOnly": False},
         {"ID": "b2c3d4e5_tax", "Name": "Tax Team", "Description": "Tax apps", "ReadOnly": False},
         {"ID": "c3d4e5f6_o365", "Name": "Office 365", "Description": "Provisioned to Microsoft 365", "ReadOnly": False},
         {"ID": "d4e5f6a7_helpdesk", "Name": "Helpdesk Admins", "Description": "", "ReadOnly": False}]
APPS = [{"ID": "app-o365", "Name": "Office 365", "DisplayName": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": True},
        {"ID": "app-xero", "Name": "Xero", "DisplayName": "Xero", "ProvCapable": False, "ProvConfigured": False, "ProvSettingEnabled": False}]


def member(user_id, name):
    return {"Guid": user_id, "Name": name, "Type": "User"}


def tenant(fake, members=None):
    """Users, roles and applications (Redrock) and each role's members (``members``: role id -> user ids)."""
    def users(request):  # the named users (WHERE ... IN), or every user
        script = request.json["Script"]
        if " WHERE " not in script:
            return fake.envelope(fake.rows(USERS))
        wanted = set(fake.in_values(script.split(" WHERE ", 1)[1]))
        return fake.envelope(fake.rows([u for u in USERS if u["Username"].lower() in wanted or u["Email"].lower() in wanted]))
    fake.pp("/Redrock/query", users, when=lambda request: " FROM User" in (request.json or {}).get("Script", ""))
    fake.redrock("Role", ROLES)
    fake.redrock("Application", APPS)
    names = dict((u["ID"], u["Username"]) for u in USERS)
    members = members or {}

    def role_members(request):
        role_id = request.json["Name"]
        return fake.envelope(fake.rows([member(uid, names[uid]) for uid in members.get(role_id, [])]))
    fake.pp("/Roles/GetRoleMembers", role_members)
    fake.pp("/Roles/UpdateRole", fake.envelope(None))


def test_adding_a_member_sends_update_role(fake, run_module, pp_args):
    tenant(fake, members={"a1b2c3d4_portal": [TOM_ID]})

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["jane.citizen@northwindacct.com"]}))

    assert result["changed"] is True and result["added"] == {"Portal Access": ["jane.citizen@northwindacct.com"]}
    (update,) = fake.writes()
    assert update.path == "/Roles/UpdateRole" and update.json == {"Name": "a1b2c3d4_portal", "Users": {"Add": [JANE_ID]}}
    assert result["members"] == {"Portal Access": ["jane.citizen@northwindacct.com", "tom.baker@northwindacct.com"]}
    assert result["plan"] == [{"op": "members", "method": "POST", "path": "/Roles/UpdateRole", "role": "Portal Access",
                               "fields": ["Name", "Users.Add"]}]
    assert [r.json for r in fake.sent("pp") if r.path == "/Roles/GetRoleMembers"] == [{"Name": "a1b2c3d4_portal"}]


def test_a_member_already_there_changes_nothing(fake, run_module, pp_args):
    tenant(fake, members={"a1b2c3d4_portal": [JANE_ID]})

    result = run_module(pp_role_member, dict(pp_args, role="portal access", members={"add": ["JANE.CITIZEN@northwindacct.com"]}))

    assert result["changed"] is False and result["added"] == {} and result["plan"] == []
    assert fake.writes() == []


def test_check_mode_and_diff_show_the_change_without_writing(fake, run_module, pp_args):
    tenant(fake, members={"a1b2c3d4_portal": [TOM_ID, OLIVER_ID]})

    members = {"set": ["tom.baker@northwindacct.com", "jane.citizen@northwindacct.com"]}
    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members=members), check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["diff"] == {"before": {"Portal Access": ["oliver.brown@northwindacct.com", "tom.baker@northwindacct.com"]},
                              "after": {"Portal Access": ["jane.citizen@northwindacct.com", "tom.baker@northwindacct.com"]}}
    assert result["removed"] == {"Portal Access": ["oliver.brown@northwindacct.com"]}
    assert fake.writes() == []


def test_removals_above_max_removals_are_refused_before_any_write(fake, run_module, pp_args):
    tenant(fake, members={"a1b2c3d4_portal": [JANE_ID, TOM_ID, OLIVER_ID]})

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"set": []}, max_removals=2))

    assert result["failed"] is True and result["field"] == "max_removals" and result["removal_limit"] == 2
    assert result["refused_removals"] == ["jane.citizen@northwindacct.com", "oliver.brown@northwindacct.com", "tom.baker@northwindacct.com"]
    assert result["roles"] == ["Portal Access"] and result["skipped_members"] == []
    assert fake.writes() == []


def test_offboarding_takes_a_leaver_out_of_every_role_but_read_only_ones(fake, run_module, pp_args):
    tenant(fake, members={"b2c3d4e5_tax": [TOM_ID], "a1b2c3d4_portal": [TOM_ID, JANE_ID]})
    fake.pp("/UserMgmt/GetUsersRolesAndAdministrativeRights", fake.envelope(fake.rows([
        {"RoleName": "Everybody", "AdministrativeRights": []}, {"RoleName": "Tax Team", "AdministrativeRights": []},
        {"RoleName": "Portal Access", "AdministrativeRights": []}])))

    result = run_module(pp_role_member, dict(pp_args, all_roles=True, members={"remove": ["tom.baker@northwindacct.com"]}))

    assert result["changed"] is True and result["roles"] == ["Portal Access", "Tax Team"]
    assert sorted((r.json["Name"], r.json["Users"]["Delete"]) for r in fake.writes()) == [("a1b2c3d4_portal", [TOM_ID]), ("b2c3d4e5_tax", [TOM_ID])]
    (roles_read,) = [r for r in fake.sent("pp") if r.path == "/UserMgmt/GetUsersRolesAndAdministrativeRights"]
    assert roles_read.query == {"id": TOM_ID}


def test_copy_from_gives_the_colleagues_plain_roles_only(fake, run_module, pp_args):
    tenant(fake, members={"b2c3d4e5_tax": [SARAH_ID]})
    fake.pp("/UserMgmt/GetUsersRolesAndAdministrativeRights", fake.envelope(fake.rows([
        {"RoleName": "Everybody", "AdministrativeRights": []},
        {"RoleName": "Tax Team", "AdministrativeRights": []},
        {"RoleName": "Office 365", "AdministrativeRights": []},
        {"RoleName": "Helpdesk Admins", "AdministrativeRights": [{"Description": "User Management"}]}])))

    result = run_module(pp_role_member, dict(pp_args, copy_from="sarah.jones@northwindacct.com", members={"add": ["jane.citizen@northwindacct.com"]}))

    assert result["roles"] == ["Tax Team"]
    assert result["copy_skipped"] == {"Office 365": "drives outbound provisioning", "Helpdesk Admins": "administrative (User Management)"}
    assert [(r.path, r.json) for r in fake.writes()] == [("/Roles/UpdateRole", {"Name": "b2c3d4e5_tax", "Users": {"Add": [JANE_ID]}})]


def test_unknown_members_fail_or_are_skipped(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["jane.citizen@northwindacct.co"]}))
    assert result["failed"] is True and result["field"] == "members.add"
    assert result["msg"] == ("Unknown user: no Practice Protect user has the login name or e-mail jane.citizen@northwindacct.co (close matches: "
                             "jane.citizen@northwindacct.com). Invite or create the user first (pp_user).")
    assert fake.writes() == []

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", skip_unknown_members=True,
                                             members={"add": ["ghost@northwindacct.com", "tom.baker@northwindacct.com"]}))
    assert result["changed"] is True and result["skipped_members"] == ["ghost@northwindacct.com"]
    assert [r.json["Users"] for r in fake.writes()] == [{"Add": [TOM_ID]}]


def test_an_unknown_role_names_the_close_matches(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_role_member, dict(pp_args, role="Portal Acess", members={"add": ["jane.citizen@northwindacct.com"]}))

    assert result["failed"] is True and result["field"] == "role"
    assert result["msg"] == "Unknown role 'Portal Acess'. Close matches: Portal Access."
    assert [r.path for r in fake.sent("pp")] == ["/Redrock/query", "/Redrock/query"]


def test_a_refused_update_names_role_management(fake, run_module, pp_args):
    tenant(fake)
    fake.pp("/Roles/UpdateRole", fake.pp_error("You are not authorized to perform this operation.", "Unauthorized"))

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["jane.citizen@northwindacct.com"]}))

    assert result["failed"] is True and result["error_code"] == "Unauthorized" and result["path"] == "/Roles/UpdateRole"
    assert result["msg"] == ("You are not authorized to perform this operation. The Practice Protect client's role lacks an admin right for "
                             "/Roles/UpdateRole; see docs/permissions.md.")


def test_bad_input_is_refused_before_any_request(fake, run_module, pp_args):
    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"set": []}, max_removals="lots"))
    assert result["failed"] is True and result["msg"] == "max_removals must be a number or a percentage such as 10%, not 'lots'."
    assert fake.requests == []

    result = run_module(pp_role_member, dict(pp_args, members={"add": ["jane.citizen@northwindacct.com"]}))
    assert result["failed"] is True and result["msg"] == "Give role (a role name) or copy_from (a user whose roles to copy)."
    assert fake.requests == []

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", all_roles=True, members={"remove": ["x@northwindacct.com"]}))
    assert result["failed"] is True and result["field"] == "all_roles"
    assert fake.requests == []


def test_the_secret_never_reaches_the_output(fake, run_module, pp_args):
    tenant(fake, members={"a1b2c3d4_portal": [TOM_ID]})

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["jane.citizen@northwindacct.com"]}), diff=True)

    assert result["changed"] is True
    assert result["invocation"]["module_args"]["pp_client_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert pp_args["pp_client_secret"] not in run_module.output


def test_a_few_members_are_read_by_name_and_an_unknown_one_with_every_user_for_its_close_matches(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["Jane.Citizen@northwindacct.com"]}))
    assert result["changed"] is True
    scripts = [r.json["Script"] for r in fake.sent("pp") if r.path == "/Redrock/query" and " FROM User" in r.json["Script"]]
    assert len(scripts) == 1 and "IN ('jane.citizen@northwindacct.com')" in scripts[0]  # only Jane's row, not the whole table

    fake.requests.clear()
    result = run_module(pp_role_member, dict(pp_args, role="Portal Access", members={"add": ["jane.citizen@northwindacct.co"]}))
    assert "close matches: jane.citizen@northwindacct.com" in result["msg"]
    scripts = [r.json["Script"] for r in fake.sent("pp") if r.path == "/Redrock/query" and " FROM User" in r.json["Script"]]
    assert [" WHERE " in script for script in scripts] == [True, False]


# -- offboarding many: each leaver's roles are read at the same time -------------------------------------------------------------

HELD = {JANE_ID: ["Portal Access"], TOM_ID: ["Tax Team", "Portal Access"], OLIVER_ID: ["Helpdesk Admins"], SARAH_ID: ["System Administrator"]}
LEAVERS = [u["Username"] for u in USERS]


def roles_of(fake, refuse=None):
    """Each user's roles (HELD) as GetUsersRolesAndAdministrativeRights answers them; ``refuse``: user id -> the refusal."""
    def answer(request):
        user_id = request.query["id"]
        if user_id in (refuse or {}):
            return refuse[user_id]
        return fake.envelope(fake.rows([{"RoleName": name, "AdministrativeRights": []} for name in ["Everybody"] + HELD[user_id]]))
    fake.pp("/UserMgmt/GetUsersRolesAndAdministrativeRights", answer)


def hold_until_all_arrive(fake, path, count):
    """Requests to ``path`` wait until ``count`` of them are in flight at once (a read made one after another breaks the wait)."""
    import threading
    barrier = threading.Barrier(count, timeout=5)
    send = fake.session.request

    def request(method, url, **kwargs):
        if url.endswith(path):
            barrier.wait()
        return send(method, url, **kwargs)
    fake.session.request = request


def test_offboarding_reads_every_leavers_roles_at_the_same_time(fake, run_module, pp_args):
    tenant(fake, members={"b2c3d4e5_tax": [TOM_ID], "a1b2c3d4_portal": [TOM_ID, JANE_ID], "d4e5f6a7_helpdesk": [OLIVER_ID]})
    roles_of(fake)
    hold_until_all_arrive(fake, "/UserMgmt/GetUsersRolesAndAdministrativeRights", len(LEAVERS))

    result = run_module(pp_role_member, dict(pp_args, all_roles=True, members={"remove": LEAVERS}, max_removals="100%"))

    assert result["changed"] is True and result["roles"] == ["Helpdesk Admins", "Portal Access", "Tax Team"]  # not the read-only one
    assert result["removed"] == {"Helpdesk Admins": ["oliver.brown@northwindacct.com"], "Tax Team": ["tom.baker@northwindacct.com"],
                                 "Portal Access": ["jane.citizen@northwindacct.com", "tom.baker@northwindacct.com"]}
    assert sorted(r.query["id"] for r in fake.sent("pp") if r.path == "/UserMgmt/GetUsersRolesAndAdministrativeRights") == sorted(HELD)


def test_offboarding_reads_made_together_plan_what_reads_made_one_by_one_plan(fake, run_module, pp_args, monkeypatch):
    from ansible_collections.practiceprotect.m365.plugins.module_utils import _module
    tenant(fake, members={"b2c3d4e5_tax": [TOM_ID], "a1b2c3d4_portal": [TOM_ID, JANE_ID], "d4e5f6a7_helpdesk": [OLIVER_ID]})
    roles_of(fake)
    args = dict(pp_args, all_roles=True, members={"remove": LEAVERS}, max_removals="100%")
    concurrent = run_module(pp_role_member, args, check_mode=True, diff=True)
    monkeypatch.setattr(_module, "APPLY_WORKERS", 1)

    sequential = run_module(pp_role_member, args, check_mode=True, diff=True)

    assert dict(concurrent, pp_requests=0) == dict(sequential, pp_requests=0)  # the token comes from the cache the second time
    assert concurrent["diff"]["before"]["Portal Access"] == ["jane.citizen@northwindacct.com", "tom.baker@northwindacct.com"]


def test_a_leaver_whose_roles_cannot_be_read_fails_the_task_with_the_first_refusal_in_order(fake, run_module, pp_args, monkeypatch):
    from ansible_collections.practiceprotect.m365.plugins.module_utils import _module
    tenant(fake, members={"a1b2c3d4_portal": [JANE_ID]})
    roles_of(fake, refuse={TOM_ID: fake.pp_error("Tom's roles are locked.", "Locked"), SARAH_ID: fake.pp_error("Sarah is gone.", "Gone")})
    args = dict(pp_args, all_roles=True, members={"remove": LEAVERS}, max_removals="100%")
    concurrent = run_module(pp_role_member, args)
    monkeypatch.setattr(_module, "APPLY_WORKERS", 1)

    sequential = run_module(pp_role_member, args)

    assert concurrent["failed"] is True and concurrent["error_code"] == "Locked" and concurrent["msg"].startswith("Tom's roles are locked.")
    assert dict(concurrent, pp_requests=0) == dict(sequential, pp_requests=0)  # the one-by-one read stopped at Tom
    assert fake.writes() == []
