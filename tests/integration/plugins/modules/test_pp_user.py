# -*- coding: utf-8 -*-
"""pp_user through real ansible-playbook runs against the sandbox's Practice Protect tenant."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from tests.integration.plugins.modules.pp_support import client_with_rights, documented_pp_rights, mark, pp_state, pp_user, pp_writes, task
from tests.integration.support import play

NAME = "jane.citizen@northwindacct.com"
JANE = dict(user=NAME, display_name="Jane Citizen", mail=NAME, mobile_number="0412 345 678", phone_region="AU",
            proxy_addresses=[NAME, "jane@northwindacct.com"], attributes={"Cost Centre": "TAX-200"})
PROXY = "SMTP:jane.citizen@northwindacct.com;smtp:jane@northwindacct.com"


def user_task(title="user", register="r", **options):
    return task("pp_user", title, register, **options)


def test_create_then_rerun_is_unchanged_and_writes_nothing(sandbox, run_playbook):
    first = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r = first.result("user")
    assert r["changed"] and r["action"] == "create"
    assert [c["path"] for c in r["plan"]] == ["/CDirectoryService/CreateUser", "/ExtData/SetColumns"]
    assert "Password" in r["plan"][0]["fields"] and "password" not in r
    assert r["user"]["MobileNumber"] == "+61412345678"
    assert r["user"]["Attributes"] == {"Cost_Centre": "TAX-200", "O365_ProxyAddresses": PROXY}
    stored = pp_user(sandbox, NAME)
    assert stored["ID"] == r["user"]["ID"] and stored["Source"] == "CDS"
    assert stored["DisplayName"] == "Jane Citizen" and stored["MobileNumber"] == "+61412345678" and stored["Mail"] == NAME
    assert stored["Attributes"] == {"Cost_Centre": "TAX-200", "O365_ProxyAddresses": PROXY}
    assert stored["ForcePasswordChangeNext"] is True and stored["InEverybodyRole"] is True
    assert stored["Roles"] == ["Everybody"]
    assert pp_state(sandbox)["outbox"] == []  # no invitation e-mail unless asked for

    since = mark(sandbox)
    second = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r2 = second.result("user")
    assert not r2["changed"] and r2["action"] == "none" and r2["plan"] == []
    assert second.changed() == 0
    assert sandbox.writes(since=since) == []


def test_check_mode_writes_nothing_and_diff_shows_the_change(sandbox, run_playbook):
    run = run_playbook(play(user_task(**JANE)), check=True, diff=True, expect_rc=0)
    r = run.result("user")
    assert r["changed"] and r["action"] == "create"
    assert r["diff"]["before"] == {}
    assert r["diff"]["after"]["Name"] == NAME and r["diff"]["after"]["Attributes"]["O365_ProxyAddresses"] == PROXY
    assert sandbox.writes() == []
    assert pp_user(sandbox, NAME) is None


def test_update_changes_only_what_differs_and_keeps_other_attributes(sandbox, run_playbook):
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    since = mark(sandbox)
    changed = {"user": NAME, "display_name": "Jane Citizen-Smith", "attributes": {"Staff_Number": 4711}}
    run = run_playbook(play(user_task(**changed)), diff=True, expect_rc=0)
    r = run.result("user")
    assert r["action"] == "update"
    assert r["diff"]["before"]["DisplayName"] == "Jane Citizen" and r["diff"]["after"]["DisplayName"] == "Jane Citizen-Smith"
    writes = pp_writes(sandbox, since)
    assert [(w["path"], w["body_keys"]) for w in writes] == [
        ("/CDirectoryService/ChangeUser", ["DisplayName", "ID"]), ("/ExtData/SetColumns", ["Columns", "ID", "Table"])]
    stored = pp_user(sandbox, NAME)
    # merged: the proxy addresses and the cost centre set before are kept
    assert stored["Attributes"] == {"Cost_Centre": "TAX-200", "O365_ProxyAddresses": PROXY, "Staff_Number": 4711}
    assert stored["DisplayName"] == "Jane Citizen-Smith" and stored["Mail"] == NAME
    # null clears one attribute, still keeping the others
    run = run_playbook(play(user_task(user=NAME, attributes={"Staff_Number": None})), expect_rc=0)
    assert run.result("user")["changed"]
    assert pp_user(sandbox, NAME)["Attributes"] == {"Cost_Centre": "TAX-200", "O365_ProxyAddresses": PROXY}


@pytest.mark.parametrize("profile", ["default", "real_tenant_variants"])
def test_a_typed_attribute_given_as_a_string_is_stored_as_its_type_and_converges(sandbox, run_playbook, profile):
    """A string for an Integer attribute (what an inventory or a template often gives) is taken, sent as CyberArk's SDK sends it,
    and compared as a number whether the tenant answers 4711 (default) or "4711" (real-tenant variants): the re-run writes nothing."""
    sandbox.configure(pp_profile=profile)
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    run = run_playbook(play(user_task(user=NAME, attributes={"Staff Number": "4711"})), expect_rc=0)
    assert run.result("user")["changed"] and run.result("user")["user"]["Attributes"]["Staff_Number"] == 4711
    assert pp_user(sandbox, NAME)["Attributes"]["Staff_Number"] == 4711
    since = mark(sandbox)
    tasks = [user_task(user=NAME, attributes={"Staff Number": "4711"}), user_task(title="as a number", user=NAME, attributes={"Staff_Number": 4711})]
    again = run_playbook(play(*tasks), expect_rc=0)
    assert again.changed() == 0 and pp_writes(sandbox, since) == []


def test_invite_from_the_source_directory(sandbox, run_playbook):
    sandbox.seed([{"userPrincipalName": "kim.ng@northwindacct.com", "mail": "kim@northwindacct.com", "displayName": "Kim Ng"}])
    tasks = [
        task("m365_user", "m365", user=NAME, given_name="Jane", surname="Citizen", usage_location="AU",
             licenses={"add": ["O365_BUSINESS_PREMIUM"]}),
        task("m365_user", "unlicensed", user="sam.lee@northwindacct.com", display_name="Sam Lee"),
        user_task(title="by mail", register="mail", **{"user": NAME, "source": "directory", "proxy_addresses": [NAME]}),
        user_task(title="by upn", register="upn", **{"user": "sam.lee@northwindacct.com", "source": "directory", "send_invite": False}),
        user_task(title="mail is not the upn", register="kim", **{"user": "KIM@northwindacct.com", "source": "directory",
                                                                  "send_invite": False}),
    ]
    run = run_playbook(play(*tasks), expect_rc=0)
    invited = run.result("by mail")
    assert invited["action"] == "invite" and [c["path"] for c in invited["plan"]] == ["/UserMgmt/InviteUsers", "/ExtData/SetColumns"]
    graph_id = run.result("m365")["user"]["id"]
    stored = pp_user(sandbox, NAME)
    assert stored["ID"] == graph_id and stored["Source"] == "AzureAD" and stored["Status"] == "Invited"
    assert stored["DisplayName"] == "Jane Citizen"  # read from Microsoft 365
    assert stored["Attributes"] == {"O365_ProxyAddresses": "SMTP:" + NAME}
    assert pp_user(sandbox, "sam.lee@northwindacct.com")["Source"] == "AzureAD"
    kim = run.result("mail is not the upn")
    assert kim["action"] == "invite" and kim["user"]["Name"] == "kim.ng@northwindacct.com"
    assert pp_user(sandbox, "kim.ng@northwindacct.com")["Mail"] == "kim@northwindacct.com"
    outbox = pp_state(sandbox)["outbox"]
    assert [(o["user"], o["kind"]) for o in outbox] == [(NAME, "email")]  # send_invite false for Sam
    since = mark(sandbox)
    again = run_playbook(play(*tasks), expect_rc=0)
    assert again.changed() == 0
    assert sandbox.writes(since=since) == []


def test_invite_on_a_tenant_listing_fds_and_inactive_directories(sandbox, run_playbook):
    """Real-tenant variants: GetDirectoryServices lists FDS and an inactive AD and Google directory, and the Entra ID directory
    has another Service code. The invitation searches the active ones, a directory is named in any case, and an unknown
    one fails before any write naming the directories with their status."""
    sandbox.configure(pp_profile="real_tenant_variants")
    tasks = [
        task("m365_user", "m365", user=NAME, given_name="Jane", surname="Citizen", usage_location="AU"),
        task("m365_user", "m365 sam", user="sam.lee@northwindacct.com", display_name="Sam Lee"),
        user_task(title="any directory", register="any", **{"user": NAME, "source": "directory", "send_invite": False}),
        user_task(title="named", register="named", **{"user": "sam.lee@northwindacct.com", "source": "directory", "send_invite": False,
                                                      "directory": "AZURE ACTIVE DIRECTORY"}),
    ]
    run = run_playbook(play(*tasks), expect_rc=0)
    assert run.result("any directory")["action"] == "invite" and run.result("named")["action"] == "invite"
    assert pp_user(sandbox, NAME)["Source"] == "AAD" and pp_user(sandbox, "sam.lee@northwindacct.com")["Source"] == "AAD"
    since = mark(sandbox)
    run = run_playbook(play(user_task(**{"user": "lee.wong@northwindacct.com", "source": "directory", "directory": "Google"})))
    assert run.rc == 2 and run.result("user")["msg"] == (
        "directory Google is not a source directory of this tenant. Source directories: Federated Directory Service, Active Directory: "
        "northwind.local (Inactive), Google Directory: northwindacct.com (Inactive), Azure Active Directory.")
    assert sandbox.writes(since=since) == []
    again = run_playbook(play(*tasks), expect_rc=0)
    assert again.changed() == 0


def test_absent_removes_the_user_once(sandbox, run_playbook):
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    gone = run_playbook(play(user_task(user=NAME, state="absent")), diff=True, expect_rc=0).result("user")
    assert gone["changed"] and gone["action"] == "delete" and gone["diff"]["after"] == {}
    assert gone["user"]["Attributes"]["O365_ProxyAddresses"] == PROXY
    assert pp_user(sandbox, NAME) is None
    since = mark(sandbox)
    again = run_playbook(play(user_task(user=NAME, state="absent")), expect_rc=0).result("user")
    assert not again["changed"]
    assert sandbox.writes(since=since) == []


BAD_INPUTS = [
    ("unknown suffix", dict(user="jane@contoso.com"),
     "user jane@contoso.com: contoso.com is not a login suffix of this Practice Protect tenant. Login suffixes: northwindacct.com, "
     "northwind-legacy.com."),
    ("not a login name", dict(user="jane"), "user 'jane' must be login name, login@suffix."),
    ("unknown attribute", dict(user=NAME, attributes={"Cost Center": "X"}),
     "attributes: Cost Center is not an additional attribute of this tenant. Close matches: Cost Centre, Cost_Centre. Attributes: Cost_Centre, "
     "O365_ProxyAddresses, Staff_Number."),
    ("attribute type", dict(user=NAME, attributes={"Staff Number": "forty"}),
     'attributes.Staff Number must be a whole number (4711 or "4711"): the attribute\'s type is Integer.'),
    ("duplicate alias", dict(user=NAME, proxy_addresses=[NAME, "JANE.citizen@northwindacct.com"]),
     "proxy_addresses: JANE.citizen@northwindacct.com appears more than once (aliases must differ from each other and from the primary)."),
    ("bad alias", dict(user=NAME, proxy_addresses=[NAME, "jane at northwindacct.com"]),
     "proxy_addresses alias 'jane at northwindacct.com' is not a valid e-mail address"),
    ("bad primary", dict(user=NAME, proxy_addresses=["jane at northwindacct.com"]),
     "proxy_addresses primary 'jane at northwindacct.com' is not a valid e-mail address"),
    ("bad mobile", dict(user=NAME, mobile_number="0412 345 678"),
     "mobile_number '0412 345 678' is not a phone number. Give it in international form (+61 412 345 678) or set phone_region."),
    ("weak password", dict(user=NAME, password="alllowercase"), "password must mix at least three of: lower case, upper case, digits, symbols."),
    ("directory field", dict(user=NAME, source="directory", display_name="Jane"),
     "display_name cannot be set for a user from the source directory: Practice Protect reads it from Microsoft 365. "
     "Change it there (m365_user) or leave it out."),
    ("not in the directory", dict(user="nobody@northwindacct.com", source="directory"),
     "No user with the UPN or e-mail address nobody@northwindacct.com in the source directory (any). Create the user in Microsoft 365 "
     "first (m365_user), or check the address."),
    ("unknown directory", dict(user="sam.lee@northwindacct.com", source="directory", directory="Google"),
     "directory Google is not a source directory of this tenant. Source directories: Azure Active Directory."),
    ("wrong type", dict(user=NAME, force_password_change="maybe"), "argument 'force_password_change' is of type"),
    # The key is user, as in every module of the collection: the former name and login_name are gone.
    ("former key", dict(name=NAME, display_name="Jane"), "one of the following is required: user, items"),
    ("former alias", dict(login_name=NAME, display_name="Jane"), "one of the following is required: user, items"),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    tasks = []
    for name, opts, _ in BAD_INPUTS:
        t = user_task(title=name, **opts)
        t["ignore_errors"] = True
        tasks.append(t)
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, _, message in BAD_INPUTS:
        t = run.task(name)
        assert t["status"] == "failed", name
        assert t["result"]["msg"].startswith(message), (name, t["result"]["msg"])
    assert sandbox.writes() == []


def test_a_directory_user_is_not_managed_as_a_cloud_user(sandbox, run_playbook):
    run_playbook(play(user_task(title="invite", **{"user": "tom.baker@northwindacct.com", "source": "directory"})), expect_rc=0)
    # tom.baker is a cloud user in the seed, so invite finds him already there: nothing to do
    assert sandbox.writes() == []
    run_playbook(play(task("m365_user", "m365", user="sam.lee@northwindacct.com", display_name="Sam Lee"),
                      user_task(title="invite", **{"user": "sam.lee@northwindacct.com", "source": "directory"})), expect_rc=0)
    since = mark(sandbox)
    run = run_playbook(play(user_task(user="sam.lee@northwindacct.com", display_name="Sam")))
    assert run.rc == 2
    assert run.result("user")["msg"] == ("sam.lee@northwindacct.com is a user from the AzureAD directory, not the cloud directory; use "
                                         "source: directory for it.")
    assert sandbox.writes(since=since) == []


def test_generated_password_returned_only_when_asked_and_never_printed(sandbox, run_playbook):
    supplied = "Supplied-Pa55word!"
    tasks = [
        user_task(title="supplied", **dict(JANE, password=supplied)),
        task("pp_user", "generated", "gen", user="sam.lee@northwindacct.com", return_password=True),
        {"name": "keep", "ansible.builtin.copy": {"content": "{{ gen.password }}", "dest": "{{ pw_file }}", "mode": "0600"}, "no_log": True},
        task("pp_user", "not asked", "plain", user="kim.ng@northwindacct.com"),
    ]
    tasks[1]["no_log"] = True
    pw_file = sandbox.state_dir + "/pp-generated-password"
    run = run_playbook(play(*tasks), extra_vars={"pw_file": pw_file}, verbosity=3, diff=True, expect_rc=0)
    with open(pw_file) as handle:
        generated = handle.read()
    assert len(generated) == 20
    assert "password" not in run.result("not asked") and "password" not in run.result("supplied")
    for secret in (supplied, generated, sandbox.env["PP_CLIENT_SECRET"]):
        assert secret not in run.stdout


def test_return_password_needs_no_log_on_the_task_and_the_module_writes_nothing_without_it(sandbox, run_playbook):
    since = mark(sandbox)
    items = dict(task("pp_user", "items", "items", items=[{"user": NAME, "return_password": True}]), ignore_errors=True)
    run = run_playbook(play(dict(user_task(**dict(JANE, return_password=True)), ignore_errors=True), items), verbosity=3)
    for name in ("user", "items"):
        assert run.result(name)["msg"] == ("return_password: true returns each new user's generated password, so set no_log: true on this "
                                           "task (and keep the registered variable out of debug output).")
    assert pp_writes(sandbox, since) == []
    check = run_playbook(play(user_task(**dict(JANE, return_password=True))), check=True, expect_rc=0)
    assert check.result("user")["changed"] and "password" not in check.result("user")  # a check run returns none to hide


def test_wrong_client_secret_fails_clearly_without_echoing_it(sandbox, run_playbook):
    run = run_playbook(play(user_task(**JANE)), env={"PP_CLIENT_SECRET": "not-the-pp-secret-456"}, verbosity=3)
    assert run.rc == 2
    r = run.result("user")
    assert r["msg"] == ("Practice Protect refused the OAuth2 client credentials for app ansible (invalid_client: Client authentication "
                        "failed.). Check pp_app_id, pp_client_id and pp_client_secret, and that the client is a confidential client "
                        "granted the app and scope all.")
    assert r["status"] == 401 and r["error_code"] == "invalid_client"
    assert "not-the-pp-secret-456" not in run.stdout


def test_missing_connection_is_named(sandbox, run_playbook):
    run = run_playbook(play(user_task(**JANE)), env={"PP_URL": None, "PP_APP_ID": None})
    assert run.result("user")["msg"] == ("Missing the Practice Protect connection: set pp_url, pp_app_id (or the environment variables "
                                         "PP_URL, PP_APP_ID).")


def test_documented_rights_are_enough_and_a_missing_right_is_named(sandbox, run_playbook):
    rights = documented_pp_rights("pp_user")
    assert rights == ["User Management"]
    env = client_with_rights(sandbox, "user-admin@northwindacct.com", rights)
    tasks = [user_task(title="create", **JANE), user_task(title="update", **{**JANE, "display_name": "Jane C"}),
             user_task(title="invite", **{"user": "tom.baker@northwindacct.com", "source": "directory"}),
             user_task(title="delete", **{"user": NAME, "state": "absent"})]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert [run.result(n)["action"] for n in ("create", "update", "invite", "delete")] == ["create", "update", "none", "delete"]
    env = client_with_rights(sandbox, "role-admin@northwindacct.com", ["Role Management"])
    run = run_playbook(play(user_task(**JANE)), env=env)
    r = run.result("user")
    assert run.rc == 2 and r["error_code"] == "Unauthorized"
    assert r["msg"] == ("You are not authorized to perform this operation. The caller needs the User Management admin right. The Practice "
                        "Protect client's role lacks an admin right for /CDirectoryService/CreateUser; see docs/permissions.md.")
    assert pp_user(sandbox, NAME) is None


@pytest.mark.parametrize("profile", ["default", "real_tenant_variants"])
def test_converges_through_service_errors_and_a_reset_create(sandbox, run_playbook, profile):
    """The retried CreateUser is answered "already in use" with the sandbox's ErrorID, or with none (real-tenant variants): the
    user is adopted by reading it back either way."""
    sandbox.configure(pp_profile=profile, faults=[
        {"service": "pp", "path": "^/Redrock/query$", "kind": "status", "status": 503, "count": 2},
        {"service": "pp", "path": "^/CDirectoryService/CreateUser$", "kind": "reset_after", "count": 1}])
    run = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r = run.result("user")
    assert r["action"] == "create" and r["retries"] >= 3
    # the first CreateUser reached the service before the connection dropped: its retry found the name taken and adopted it
    assert len([u for u in pp_state(sandbox)["users"] if u["Name"] == NAME]) == 1
    assert pp_user(sandbox, NAME)["Attributes"]["O365_ProxyAddresses"] == PROXY
    assert run_playbook(play(user_task(**JANE)), expect_rc=0).changed() == 0


# -- many people in one task (items) ---------------------------------------------------------------------------------

TOM = "tom.baker@northwindacct.com"
BAD_SUFFIX = "lee@contoso.com"
BAD_SUFFIX_MSG = ("user lee@contoso.com: contoso.com is not a login suffix of this Practice Protect tenant. Login suffixes: northwindacct.com, "
                  "northwind-legacy.com.")
PEOPLE = [dict(JANE), dict(user=TOM, display_name="Thomas Baker", attributes={"Staff Number": 4712}),
          dict(user=BAD_SUFFIX, display_name="Lee")]


def pp_reads(sandbox, since):
    """The Practice Protect API reads since ``since`` (the token requests aside), by path."""
    reads = [e["path"] for e in sandbox.log(since) if e["service"] == "pp" and not e["write"] and not e["path"].startswith("/oauth2/")]
    return dict((path, reads.count(path)) for path in sorted(set(reads)))


def test_items_plan_everyone_together_and_report_each_person(sandbox, run_playbook):
    bulk = task("pp_user", "bulk", "bulk", items=PEOPLE, fail_on_item_error=False)
    strict = dict(task("pp_user", "strict", "strict", items=PEOPLE), ignore_errors=True)
    run = run_playbook(play(bulk, strict), expect_rc=0)
    r = run.result("bulk")
    assert run.task("bulk")["status"] == "ok" and r["changed"]
    assert r["failed_items"] == [BAD_SUFFIX] and sorted(r["outcomes"]) == sorted([BAD_SUFFIX, NAME, TOM])
    lee = r["outcomes"][BAD_SUFFIX]
    assert lee["failed"] is True and not lee["changed"] and lee["msg"] == BAD_SUFFIX_MSG and lee["field"] == "user"
    jane, tom = r["outcomes"][NAME], r["outcomes"][TOM]
    assert jane["changed"] and jane["action"] == "create" and jane["user"]["Attributes"]["O365_ProxyAddresses"] == PROXY
    assert "password" not in jane and "password" not in tom  # generated, but not asked for by the task
    assert pp_user(sandbox, NAME)["Attributes"] == {"Cost_Centre": "TAX-200", "O365_ProxyAddresses": PROXY}
    assert pp_user(sandbox, TOM)["DisplayName"] == "Thomas Baker" and pp_user(sandbox, TOM)["Attributes"]["Staff_Number"] == 4712
    assert pp_user(sandbox, BAD_SUFFIX) is None
    # The default fails the task, names the person and keeps the others' outcomes (converged by now).
    s = run.task("strict")
    assert s["status"] == "failed"
    assert s["result"]["msg"] == "1 of 3 items failed: %s: %s" % (BAD_SUFFIX, BAD_SUFFIX_MSG)
    assert s["result"]["failed_items"] == [BAD_SUFFIX] and not s["result"]["changed"]
    assert not s["result"]["outcomes"][NAME]["changed"] and "password" not in s["result"]["outcomes"][NAME]

    # Converged: nothing changes, nothing is written, and everyone was read with one query of each kind.
    since = mark(sandbox)
    again = run_playbook(play(bulk), expect_rc=0)
    assert again.changed() == 0 and not again.result("bulk")["changed"]
    assert again.result("bulk")["failed_items"] == [BAD_SUFFIX]
    assert sandbox.writes(since=since) == []
    bulk_reads = pp_reads(sandbox, since)
    assert bulk_reads == {"/Core/GetCdsAliasesForTenant": 1, "/ExtData/GetColumns": 2, "/ExtData/GetSchema": 1, "/Redrock/query": 1}
    since = mark(sandbox)
    assert run_playbook(play(user_task(**JANE)), expect_rc=0).changed() == 0
    single_reads = pp_reads(sandbox, since)
    assert single_reads == {"/Core/GetCdsAliasesForTenant": 1, "/ExtData/GetColumns": 1, "/ExtData/GetSchema": 1, "/Redrock/query": 1}
    assert sum(bulk_reads.values()) < 3 * sum(single_reads.values())


def test_items_invite_several_directory_users_with_one_directory_query(sandbox, run_playbook):
    sandbox.seed([{"userPrincipalName": "kim.ng@northwindacct.com", "mail": "kim@northwindacct.com", "displayName": "Kim Ng"},
                  {"userPrincipalName": "sam.lee@northwindacct.com", "displayName": "Sam Lee"}])
    items = [{"user": "KIM@northwindacct.com"}, {"user": "sam.lee@northwindacct.com", "send_invite": True},
             {"user": "nobody@northwindacct.com"}]
    since = mark(sandbox)
    run = run_playbook(play(task("pp_user", "invite", "invite", source="directory", send_invite=False, items=items,
                                 fail_on_item_error=False)), check=True, expect_rc=0)
    out = run.result("invite")["outcomes"]
    assert out["kim@northwindacct.com"]["action"] == "invite" and out["kim@northwindacct.com"]["user"]["Name"] == "kim.ng@northwindacct.com"
    assert out["sam.lee@northwindacct.com"]["action"] == "invite"
    assert out["nobody@northwindacct.com"]["msg"] == (
        "No user with the UPN or e-mail address nobody@northwindacct.com in the source directory (any). Create the user in Microsoft 365 "
        "first (m365_user), or check the address.")
    assert sandbox.writes(since=since) == []  # check mode
    assert pp_reads(sandbox, since)["/UserMgmt/DirectoryServiceQuery"] == 1
    run = run_playbook(play(task("pp_user", "invite", "invite", source="directory", send_invite=False, items=items[:2])), expect_rc=0)
    assert pp_user(sandbox, "kim.ng@northwindacct.com")["Source"] == "AzureAD" and pp_user(sandbox, "sam.lee@northwindacct.com")["Status"] == "Invited"
    assert [o["user"] for o in pp_state(sandbox)["outbox"]] == ["sam.lee@northwindacct.com"]  # the item's send_invite wins


def test_disable_enable_and_description_of_a_cloud_user(sandbox, run_playbook):
    name = "tom.baker@northwindacct.com"
    disable = run_playbook(play(user_task(user=name, enabled=False, description="Left on 2026-12-07")), diff=True, expect_rc=0)
    r = disable.result("user")
    assert r["changed"] and [c["path"] for c in r["plan"]] == ["/CDirectoryService/ChangeUser", "/CDirectoryService/SetUserState"]
    assert r["description_before"] == "" and r["diff"]["after"]["State"] == "Disabled"
    stored = pp_user(sandbox, name)
    assert stored["State"] == "Disabled" and stored["Description"] == "Left on 2026-12-07"
    since = mark(sandbox)
    again = run_playbook(play(user_task(user=name, enabled=False, description="Left on 2026-12-07")), expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=since) == []
    enable = run_playbook(play(user_task(user=name, enabled=True, description="")), expect_rc=0).result("user")
    assert enable["changed"] and enable["description_before"] == "Left on 2026-12-07"
    assert pp_user(sandbox, name)["State"] == "None" and not pp_user(sandbox, name)["Description"]


def test_enabled_is_refused_for_a_source_directory_user(sandbox, run_playbook):
    run = run_playbook(play(user_task(user="sarah.jones@northwindacct.com", source="directory", enabled=False)))
    assert run.rc == 2 and run.result("user")["msg"].startswith("enabled applies to cloud users;")
    assert sandbox.writes() == []
