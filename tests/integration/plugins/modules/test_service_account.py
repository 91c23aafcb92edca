# -*- coding: utf-8 -*-
"""service_account (and the service_account role and playbook) through real ansible-playbook runs against the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest
from tests.integration.support import documented_permissions, play

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
UPN = "practiceprotect@northwindacct.onmicrosoft.com"
MAIL_UPN = "practiceprotect-mail@northwindacct.onmicrosoft.com"
GA = "62e90394-69f5-4237-9190-012177145e10"
EA = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GR = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"
PERMISSIONS = ["User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All", "RoleManagement.ReadWrite.Directory"]


def sa_task(task_name="sa", register="r", ignore_errors=False, **options):
    task = {"name": task_name, "practiceprotect.m365.service_account": options, "register": register}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def account(sandbox, upn=UPN):
    users = [u for u in sandbox.state()["users"] if (u.get("userPrincipalName") or "").lower() == upn and u["_state"] == "active"]
    return users[0] if users else None


def roles_of(sandbox, principal_id):
    return sorted(a["roleDefinitionId"] for a in sandbox.state()["role_assignments"] if a["principalId"] == principal_id)


def app_principal(sandbox, client_id):
    return [a for a in sandbox.control("GET", "apps")["apps"] if a["client_id"] == client_id][0]["service_principal_id"]


def grant_directory_role(sandbox, principal_id, role_id):
    with sandbox.graph_session() as graph:
        response = graph.post(sandbox.graph_url + ASSIGNMENTS, json={"roleDefinitionId": role_id, "principalId": principal_id, "directoryScopeId": "/"},
                              timeout=30)
    assert response.status_code == 201, response.text


def mark(sandbox):
    return sandbox.log()[-1]["seq"]


def test_create_for_each_purpose_then_rerun_changes_nothing(sandbox, run_playbook):
    tasks = [sa_task(task_name="federation", register="fed", purpose="federation"),
             {"name": "mail", "practiceprotect.m365.service_account": {"purpose": "mail_redirection", "name": "practiceprotect-mail"},
              "register": "mail"}]
    first = run_playbook(play(*tasks), expect_rc=0)
    fed, mail = first.result("federation"), first.result("mail")
    for result, upn, role in ((fed, UPN, "Global Administrator"), (mail, MAIL_UPN, "Exchange Administrator")):
        assert result["changed"] and result["action"] == "create"
        assert result["user_principal_name"] == upn
        assert [c["op"] for c in result["plan"]] == ["create", "role_add"] and result["plan"][1]["role"] == role
        assert result["roles"] == [role] and result["roles_added"] == [role] and result["roles_removed"] == []
        assert result["password_set"] and "password" not in result
        assert result["user"]["licenses"] == [] and result["user"]["roles"] == [role]
    stored = account(sandbox)
    assert stored["id"] == fed["user"]["id"]
    assert (stored["displayName"], stored["givenName"], stored["surname"], stored["mailNickname"]) == ("Practice Protect", "Practice", "Protect",
                                                                                                       "practiceprotect")
    assert stored["accountEnabled"] is True and stored["assignedLicenses"] == []
    assert roles_of(sandbox, stored["id"]) == [GA]
    assert roles_of(sandbox, account(sandbox, MAIL_UPN)["id"]) == [EA]

    since = mark(sandbox)
    second = run_playbook(play(*tasks), expect_rc=0)
    for name in ("federation", "mail"):
        result = second.result(name)
        assert not result["changed"] and result["action"] == "none" and result["plan"] == [] and not result["password_set"]
    assert second.changed() == 0
    assert sandbox.writes(since=since) == []


def test_check_mode_writes_nothing_and_diff_shows_the_account(sandbox, run_playbook):
    run = run_playbook(play(sa_task(purpose="federation")), check=True, diff=True, expect_rc=0)
    result = run.result("sa")
    assert result["changed"] and result["action"] == "create" and result["password_set"] and "password" not in result
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["userPrincipalName"] == UPN and result["diff"]["after"]["roles"] == ["Global Administrator"]
    assert sandbox.writes() == []
    assert account(sandbox) is None


def test_switch_purpose_and_refuse_dropping_global_administrator_under_federation(sandbox, run_playbook):
    run = run_playbook(play(sa_task(task_name="mail", purpose="mail_redirection"), sa_task(task_name="switch", register="s", purpose="federation")),
                       diff=True, expect_rc=0)
    switched = run.result("switch")
    assert switched["action"] == "update" and switched["roles_added"] == ["Global Administrator"]
    assert switched["roles_removed"] == ["Exchange Administrator"] and switched["roles"] == ["Global Administrator"]
    assert switched["diff"]["before"]["roles"] == ["Exchange Administrator"] and switched["diff"]["after"]["roles"] == ["Global Administrator"]
    user_id = account(sandbox)["id"]
    assert roles_of(sandbox, user_id) == [GA]

    since = mark(sandbox)
    refused = run_playbook(play(sa_task(purpose="mail_redirection", federation_enabled=True)))
    assert refused.rc == 2
    assert refused.result("sa")["msg"] == (
        "Refusing to remove Global Administrator from %s: federation_enabled is true, and Practice Protect's Office 365 federation needs "
        "this account to stay a Global Administrator. Keep purpose: federation while federation is on, or turn federation off in Practice "
        "Protect first and set federation_enabled: false; force: true removes it anyway." % UPN)
    assert sandbox.writes(since=since) == []
    assert roles_of(sandbox, user_id) == [GA]


def test_remove_and_refusal_under_federation(sandbox, run_playbook):
    create = play(sa_task(task_name="federation", purpose="federation"),
                  {"name": "mail", "practiceprotect.m365.service_account": {"purpose": "mail_redirection", "name": "practiceprotect-mail"}})
    run_playbook(create, expect_rc=0)
    fed_id, mail_id = account(sandbox)["id"], account(sandbox, MAIL_UPN)["id"]

    since = mark(sandbox)
    tasks = [sa_task(task_name="by purpose", state="absent", purpose="federation", ignore_errors=True),
             sa_task(task_name="by flag", state="absent", federation_enabled=True, ignore_errors=True),
             {"name": "remove mail", "practiceprotect.m365.service_account": {"state": "absent", "name": "practiceprotect-mail"},
              "register": "gone"}]
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, reason in (("by purpose", "purpose: federation"), ("by flag", "federation_enabled: true")):
        task = run.task(name)
        assert task["status"] == "failed"
        assert task["result"]["msg"] == (
            "Refusing to remove %s: it serves Practice Protect's Office 365 federation (%s), and sign-in through Practice Protect stops "
            "working without it. Turn federation off in Practice Protect first, then run again with federation_enabled: false and without "
            "purpose: federation; or set force: true to remove it anyway." % (UPN, reason))
    gone = run.result("remove mail")
    assert gone["changed"] and gone["action"] == "delete" and gone["roles_removed"] == ["Exchange Administrator"]
    assert [c["op"] for c in gone["plan"]] == ["role_remove", "delete"]
    # Only the mail-redirection account was touched, roles first, then the user.
    assert [(w["method"], w["path"].split("/")[2]) for w in sandbox.writes(since=since)] == [("DELETE", "roleManagement"), ("DELETE", "users")]
    assert sandbox.writes(since=since)[1]["path"] == "/v1.0/users/" + mail_id
    assert account(sandbox, MAIL_UPN) is None and roles_of(sandbox, mail_id) == []
    assert account(sandbox)["id"] == fed_id and roles_of(sandbox, fed_id) == [GA]

    forced = run_playbook(play(sa_task(state="absent", purpose="federation", force=True)), expect_rc=0).result("sa")
    assert forced["action"] == "delete" and forced["roles_removed"] == ["Global Administrator"] and forced["user"]["id"] == fed_id
    assert account(sandbox) is None and roles_of(sandbox, fed_id) == []

    since = mark(sandbox)
    again = run_playbook(play(sa_task(state="absent", purpose="federation")), expect_rc=0).result("sa")
    assert not again["changed"] and again["action"] == "none"
    assert sandbox.writes(since=since) == []


def test_a_licence_found_on_the_account_is_removed(sandbox, run_playbook):
    sandbox.seed([{"userPrincipalName": UPN, "displayName": "Practice Protect", "givenName": "Practice", "surname": "Protect",
                   "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}])
    seats = [s for s in sandbox.state()["skus"] if s["skuPartNumber"] == "O365_BUSINESS_PREMIUM"][0]["consumedUnits"]
    run = run_playbook(play(sa_task(purpose="mail_redirection")), expect_rc=0)
    result = run.result("sa")
    assert result["action"] == "update" and result["licenses_removed"] == ["O365_BUSINESS_PREMIUM"]
    assert [c["op"] for c in result["plan"]] == ["licenses", "role_add"]
    assert any("held licence(s) O365_BUSINESS_PREMIUM; they were removed, because it must stay unlicensed" in w
               for w in result.get("warnings", []))
    assert account(sandbox)["assignedLicenses"] == []
    assert [s for s in sandbox.state()["skus"] if s["skuPartNumber"] == "O365_BUSINESS_PREMIUM"][0]["consumedUnits"] == seats - 1
    assert run_playbook(play(sa_task(purpose="mail_redirection")), expect_rc=0).result("sa")["changed"] is False


def test_password_never_printed_unless_asked_for(sandbox, run_playbook):
    grant_directory_role(sandbox, app_principal(sandbox, sandbox.env["M365_CLIENT_ID"]), PRIVILEGED_AUTH_ADMIN)  # may reset an admin's password
    files = {name: os.path.join(sandbox.state_dir, "pw-%s" % name) for name in ("created", "rotated")}
    tasks = [
        sa_task(task_name="plain", register="plain", purpose="mail_redirection"),
        {"name": "created", "practiceprotect.m365.service_account": {"purpose": "federation", "name": "practiceprotect-fed",
                                                                     "return_password": True},
         "register": "created", "no_log": True},
        {"name": "rotated", "practiceprotect.m365.service_account": {"purpose": "mail_redirection", "rotate_password": True,
                                                                     "return_password": True},
         "register": "rotated", "no_log": True},
        sa_task(task_name="rotated quietly", register="quiet", purpose="mail_redirection", rotate_password=True),
    ]
    for name in ("created", "rotated"):
        tasks.append({"name": "keep " + name, "ansible.builtin.copy": {"content": "{{ %s.password }}" % name, "dest": files[name], "mode": "0600"},
                      "no_log": True})
    run = run_playbook(play(*tasks), verbosity=3, diff=True, expect_rc=0)
    secrets = []
    for name in ("created", "rotated"):
        with open(files[name]) as handle:
            secrets.append(handle.read())
    assert len(secrets[0]) == 20 and len(secrets[1]) == 20 and secrets[0] != secrets[1]
    for secret in secrets + [sandbox.env["M365_CLIENT_SECRET"]]:
        assert secret not in run.stdout
    plain, quiet = run.result("plain"), run.result("rotated quietly")
    assert plain["password_set"] and "password" not in plain
    assert quiet["changed"] and quiet["password_set"] and "password" not in quiet and quiet["plan"][0]["fields"] == ["passwordProfile"]
    assert not re.search(r'"password": "', run.stdout)
    assert "censored" in run.stdout


def test_return_password_needs_no_log_and_rotation_of_an_admin_needs_a_higher_role(sandbox, run_playbook):
    run_playbook(play(sa_task(purpose="mail_redirection")), expect_rc=0)
    since = mark(sandbox)
    run = run_playbook(play(sa_task(task_name="no no_log", purpose="mail_redirection", rotate_password=True, return_password=True,
                                    ignore_errors=True),
                            sa_task(task_name="rotate", purpose="mail_redirection", rotate_password=True, ignore_errors=True)),
                       expect_rc=0)
    assert run.task("no no_log")["result"]["msg"] == (
        "return_password: true returns the service account's password, so set no_log: true on this task "
        "(and keep the registered variable out of debug output).")
    refused = run.task("rotate")["result"]
    assert refused["status"] == 403 and refused["error_code"] == "Authorization_RequestDenied"
    assert refused["msg"].startswith(
        "Microsoft 365 refused to set the password or sign-in state of %s (Authorization_RequestDenied): the account holds an admin role "
        "(Exchange Administrator), and an application may do that to an admin only if its own service principal holds a higher directory "
        "role such as Privileged Authentication Administrator" % UPN)
    assert [(w["method"], w["status"]) for w in sandbox.writes(since=since)] == [("PATCH", 403)]


BAD_INPUTS = [
    ("misspelt role", dict(roles={"add": ["Exchange Admin"]}),
     "Unknown directory role: 'Exchange Admin' is not a directory role in this tenant (did you mean Exchange Administrator or Exchange Recipient "
     "Administrator?). Give roles by display name (for example Exchange Administrator) or by template id."),
    ("one bad among good", dict(roles={"set": ["Global Administrator", "Global Admn", "Tea Lady"]}),
     "Unknown directory role: 'Global Admn' is not a directory role in this tenant (did you mean Global Administrator or Global Reader?); "
     "'Tea Lady' is not a directory role in this tenant (no role has a similar name). Give roles by display name (for example Exchange "
     "Administrator) or by template id."),
    ("misspelt role to remove", dict(roles={"remove": ["Global Admn"]}),
     "Unknown directory role: 'Global Admn' is not a directory role in this tenant (did you mean Global Administrator or Global Reader?)."),
    ("unknown id", dict(roles={"add": ["00000000-0000-4000-8000-000000000001"]}),
     "Unknown directory role: 00000000-0000-4000-8000-000000000001 is not the id or template id of a directory role in this tenant."),
    ("no purpose", dict(), "Give purpose (federation or mail_redirection) or an explicit roles list for the service account."),
    ("no roles", dict(roles={}), "roles is empty; give add, remove or set with directory role names."),
    ("add and remove the same", dict(roles={"add": ["Global Reader"], "remove": ["global reader"]}),
     "roles lists global reader under both add and remove; give each value once."),
    ("unknown action", dict(roles={"exclusive": True}),
     "Unsupported parameters for (practiceprotect.m365.service_account) module: roles.exclusive. Supported parameters include: add, remove, set."),
    ("both", dict(purpose="federation", roles={"set": ["Global Administrator"]}), "parameters are mutually exclusive: purpose|roles"),
    ("bad purpose", dict(purpose="federated"), "value of purpose must be one of: federation, mail_redirection, got: federated"),
    ("bad name", dict(purpose="federation", name="practice protect"), "name 'practice protect' is not a valid sign-in name"),
    ("removal limit not a number", dict(purpose="federation", max_removals="three"),
     "max_removals must be a number or a percentage such as 10%, not 'three'."),
    ("foreign domain", dict(purpose="federation", domain="contoso.com"),
     "The domain contoso.com is not a domain of this tenant. Verified domains: northwindacct.com, northwindacct.onmicrosoft.com."),
    ("unverified domain", dict(purpose="federation", domain="northwind-legacy.com"),
     "The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for domain."),
]


def test_bad_input_is_refused_with_a_clear_message_and_no_write(sandbox, run_playbook):
    tasks = [sa_task(task_name=name, ignore_errors=True, **options) for name, options, _ in BAD_INPUTS]
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, _, message in BAD_INPUTS:
        task = run.task(name)
        assert task["status"] == "failed", name
        assert task["result"]["msg"].startswith(message), (name, task["result"]["msg"])
    assert sandbox.writes() == []
    assert account(sandbox) is None


def test_explicit_roles_set_remove_and_max_removals(sandbox, run_playbook):
    run = run_playbook(play(sa_task(task_name="two", roles={"add": ["exchange administrator", GR]}),
                            sa_task(task_name="additive", register="a", roles={"add": ["Exchange Administrator"]})), expect_rc=0)
    assert run.result("two")["roles"] == ["Exchange Administrator", "Global Reader"]
    assert not run.result("additive")["changed"]
    user_id = account(sandbox)["id"]
    since = mark(sandbox)
    refused = run_playbook(play(sa_task(roles={"set": []}, max_removals=1)))
    assert refused.rc == 2
    r = refused.result("sa")
    assert r["msg"] == (
        "Refusing to remove 2 directory role assignments from %s, more than max_removals (1): Exchange Administrator, Global Reader. "
        "List them to keep them, or raise max_removals if this is intended." % UPN)
    assert r["field"] == "max_removals" and r["removal_limit"] == 1 and r["refused_removals"] == ["Exchange Administrator", "Global Reader"]
    share = run_playbook(play(sa_task(roles={"set": []}, max_removals="50%")))
    assert share.rc == 2 and share.result("sa")["msg"] == (
        "Refusing to remove 2 directory role assignments from %s, more than max_removals (50%% of the 2 held now, rounded down, at least "
        "1: 1): Exchange Administrator, Global Reader. List them to keep them, or raise max_removals if this is intended." % UPN)
    removing = run_playbook(play(sa_task(roles={"remove": ["Exchange Administrator", "Global Reader"]}, max_removals=1)))
    assert removing.rc == 2 and removing.result("sa")["refused_removals"] == ["Exchange Administrator", "Global Reader"]
    assert sandbox.writes(since=since) == [] and roles_of(sandbox, user_id) == sorted([EA, GR])
    exact = run_playbook(play(sa_task(roles={"set": ["Exchange Administrator"]}, max_removals="50%")), expect_rc=0).result("sa")
    assert exact["roles_removed"] == ["Global Reader"] and exact["roles_added"] == [] and roles_of(sandbox, user_id) == [EA]
    removed = run_playbook(play(sa_task(roles={"remove": ["Exchange Administrator", "Global Reader"]})), expect_rc=0).result("sa")
    assert removed["roles_removed"] == ["Exchange Administrator"] and removed["roles"] == [] and roles_of(sandbox, user_id) == []
    since = mark(sandbox)
    again = run_playbook(play(sa_task(roles={"remove": ["Exchange Administrator"]})), expect_rc=0).result("sa")
    assert not again["changed"] and sandbox.writes(since=since) == []


def test_documented_permissions_are_enough_for_the_whole_lifecycle(sandbox, run_playbook):
    roles = documented_permissions("service_account")
    assert roles == PERMISSIONS
    licensed = {"userPrincipalName": UPN, "usageLocation": "AU", "licenses": ["FLOW_FREE"]}
    sandbox.seed([licensed])
    app = sandbox.add_app("service_account least privilege", roles)
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    tasks = [sa_task(task_name="adopt", purpose="federation"), sa_task(task_name="switch", purpose="mail_redirection"),
             sa_task(task_name="remove", state="absent")]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert [run.result(n)["action"] for n in ("adopt", "switch", "remove")] == ["update", "update", "delete"]
    assert run.result("adopt")["licenses_removed"] == ["FLOW_FREE"]
    assert account(sandbox) is None
    for missing in roles:
        sandbox.reset()
        sandbox.seed([licensed])
        app = sandbox.add_app("without " + missing, [r for r in roles if r != missing])
        env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
        failed = run_playbook(play(sa_task(purpose="federation")), env=env)
        result = failed.result("sa")
        assert failed.rc == 2 and result["status"] == 403, missing
        assert "lacks a Microsoft Graph permission" in result["msg"], missing


def report_lines(run):
    """The role's report lines (role task names carry the role's name as a prefix)."""
    found = [t for t in run.tasks if t["task"].endswith("Report the service account")]
    assert found, run.stdout[-3000:]
    return found[-1]["result"]["msg"]


def test_role_and_playbook_for_both_purposes(sandbox, run_playbook):
    with open(os.path.join(ROOT, "playbooks", "service_account.yml")) as handle:
        playbook = handle.read()
    password_file = os.path.join(sandbox.state_dir, "pp-account-password")
    first = run_playbook(playbook, extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True,
                                               "service_account_password_file": password_file}, verbosity=2, expect_rc=0)
    assert first.changed() >= 1
    with open(password_file) as handle:
        password = handle.read()
    assert len(password) == 20 and password not in first.stdout
    assert oct(os.stat(password_file).st_mode & 0o777) == "0o600"
    user_id = account(sandbox)["id"]
    assert roles_of(sandbox, user_id) == [GA]
    report = report_lines(first)
    assert report[:2] == ["%s: create" % UPN, "roles: Global Administrator"]

    since = mark(sandbox)
    again = run_playbook(playbook, extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True},
                         expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=since) == []

    refused = run_playbook(playbook, extra_vars={"service_account_state": "absent", "service_account_federation_enabled": True})
    assert refused.rc == 2 and "it serves Practice Protect's Office 365 federation" in refused.stdout
    assert sandbox.writes(since=since) == []

    bad = run_playbook(playbook, extra_vars={"service_account_purpose": "federated"})
    assert bad.rc == 2 and "service_account_purpose" in bad.stdout and sandbox.writes(since=since) == []

    switched = run_playbook(playbook, extra_vars={}, expect_rc=0)  # the default purpose: mail redirection
    assert roles_of(sandbox, user_id) == [EA]
    assert report_lines(switched)[1:3] == ["roles: Exchange Administrator", "roles added: Exchange Administrator"]
    removed = run_playbook(playbook, extra_vars={"service_account_state": "absent"}, expect_rc=0)
    assert report_lines(removed)[0] == "%s: delete" % UPN
    assert account(sandbox) is None


@pytest.mark.parametrize("lag", [3])
def test_create_converges_under_replication_lag(sandbox, run_playbook, lag):
    sandbox.configure(replication_lag_s=lag)
    run = run_playbook(play(sa_task(purpose="federation")), expect_rc=0)
    assert run.result("sa")["replication_waits"] >= 1
    sandbox.configure(replication_lag_s=0)
    assert roles_of(sandbox, run.result("sa")["user"]["id"]) == [GA]
