# -*- coding: utf-8 -*-
"""app_registration (and its role and playbook) through real ansible-playbook runs against the sandbox: create, re-run
unchanged, the client secret only to a no_log task and never in a log, removal guarded, and Practice Protect's token-based
sync signing in with what the module made."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.support import last_seq, play, playbook

DEFAULTS = ["Directory.ReadWrite.All", "Domain.ReadWrite.All", "Organization.Read.All", "User.ReadWrite.All"]
OFFICE365_APP = "5a2e7f9c-1b3d-4e6f-8a0b-2c4d6e8f0a1b"


def task(name="app", register="r", ignore_errors=False, no_log=False, **options):
    out = {"name": name, "practiceprotect.m365.app_registration": options, "register": register}
    if ignore_errors:
        out["ignore_errors"] = True
    if no_log:
        out["no_log"] = True
    return out


def registrations(sandbox):
    return sandbox.state()["registrations"]


def granted(sandbox, app_id):
    state = registrations(sandbox)
    sp = [s for s in state["servicePrincipals"] if s["appId"] == app_id]
    assert sp, "no service principal for %s" % app_id
    from tests.sandbox.graph_applications import GRAPH_APP_ROLES
    names = dict((role_id, name) for name, role_id in GRAPH_APP_ROLES.items())
    return sorted(names[a["appRoleId"]] for a in state["appRoleAssignments"] if a["principalId"] == sp[0]["id"])


def test_check_mode_then_create_then_rerun_changes_nothing(sandbox, run_playbook, tmp_path):
    mark = last_seq(sandbox)
    planned = run_playbook(play(task()), check=True, diff=True, expect_rc=0).result("app")
    assert planned["changed"] and planned["action"] == "create" and planned["secret_added"] and "secret" not in planned
    assert [c["op"] for c in planned["plan"]] == ["create", "service_principal"] + ["grant"] * 4 + ["add_secret"]
    assert sandbox.writes(since=mark) == [] and registrations(sandbox)["applications"] == []

    secret_file = tmp_path / "secret.txt"
    run = run_playbook(play(task(return_secret=True, no_log=True), {
        "name": "keep", "ansible.builtin.copy": {"content": "{{ r.secret }}", "dest": str(secret_file), "mode": "0600"}, "no_log": True}),
        expect_rc=0)
    secret = secret_file.read_text()
    assert len(secret) >= 30 and secret not in run.stdout
    app = registrations(sandbox)["applications"][0]
    assert app["displayName"] == "Practice Protect" and granted(sandbox, app["appId"]) == DEFAULTS
    assert [c["displayName"] for c in app["passwordCredentials"]] == ["Practice Protect provisioning"]

    mark = last_seq(sandbox)
    again = run_playbook(play(task()), diff=True, expect_rc=0).result("app")
    assert not again["changed"] and again["action"] == "none" and again["client_id"] == app["appId"]
    assert again["registration"]["permissions"] == DEFAULTS and again["plan"] == []
    assert sandbox.writes(since=mark) == []


def test_the_secret_is_returned_only_to_a_no_log_task(sandbox, run_playbook):
    mark = last_seq(sandbox)
    refused = run_playbook(play(task(return_secret=True, ignore_errors=True)), expect_rc=0).task("app")["result"]
    assert refused["msg"] == ("return_secret: true returns the app registration's client secret, so set no_log: true on this task (and keep the "
                              "registered variable out of debug output).")
    assert sandbox.writes(since=mark) == []
    # Without return_secret the new secret is made but never returned.
    made = run_playbook(play(task()), expect_rc=0).result("app")
    assert made["secret_added"] and "secret" not in made and made["secret_expires"]


def test_permissions_set_and_removal_guard(sandbox, run_playbook):
    run_playbook(play(task()), expect_rc=0)
    client_id = registrations(sandbox)["applications"][0]["appId"]
    narrowed = run_playbook(play(task(permissions={"set": ["User.ReadWrite.All", "Domain.ReadWrite.All"]})), expect_rc=0).result("app")
    assert narrowed["permissions_removed"] == ["Directory.ReadWrite.All", "Organization.Read.All"]
    assert granted(sandbox, client_id) == ["Domain.ReadWrite.All", "User.ReadWrite.All"]
    mark = last_seq(sandbox)
    refused = run_playbook(play(task(state="absent", ignore_errors=True)), expect_rc=0).task("app")["result"]
    assert refused["field"] == "force" and client_id in refused["msg"] and "force: true" in refused["msg"]
    assert sandbox.writes(since=mark) == []
    removed = run_playbook(play(task(state="absent", force=True)), expect_rc=0).result("app")
    assert removed["changed"] and removed["action"] == "delete"
    assert registrations(sandbox)["applications"] == [] and registrations(sandbox)["appRoleAssignments"] == []
    assert not run_playbook(play(task(state="absent", force=True)), expect_rc=0).result("app")["changed"]


def test_the_role_and_playbook_feed_practice_protects_token_based_sync(sandbox, run_playbook, tmp_path):
    secret_file = tmp_path / "pp-app-secret.txt"
    run = run_playbook(playbook("app_registration.yml"), extra_vars={"app_registration_secret_file": str(secret_file)}, expect_rc=0)
    assert secret_file.read_text() not in run.stdout
    client_id = registrations(sandbox)["applications"][0]["appId"]
    # Practice Protect's Office 365 application signs in with it: a token-based sync runs.
    sandbox.configure(pp_provisioning_method="token")
    sandbox.control("POST", "pp/seed", json={"apps": {OFFICE365_APP: {"client_id": client_id}},
                                             "users": [{"Name": "kim.ng@northwindacct.com", "DisplayName": "Kim Ng", "Roles": ["Office 365"]}]})
    synced = run_playbook(play({"name": "sync", "practiceprotect.m365.outbound_sync": {"users": ["kim.ng@northwindacct.com"], "verify_upns": True}}),
                          expect_rc=0).result("sync")
    assert synced["job"]["State"] == "Succeeded", synced
    assert [u["exists"] for u in synced["verified"]] == [True]
    again = run_playbook(playbook("app_registration.yml"), expect_rc=0)
    assert again.changed("localhost") == 0


def test_a_certificate_credential_is_added_once_and_a_second_one_keeps_the_first(sandbox, run_playbook, tmp_path):
    from tests.sandbox.auth import make_certificate
    first, second = make_certificate("Practice Protect 1"), make_certificate("Practice Protect 2")
    (tmp_path / "one.crt").write_bytes(first["cert_pem"])
    (tmp_path / "two.crt").write_bytes(second["cert_pem"])
    run_playbook(play(task(credential="certificate", certificate_path=str(tmp_path / "one.crt"))), expect_rc=0)
    mark = last_seq(sandbox)
    same = run_playbook(play(task(credential="certificate", certificate_path=str(tmp_path / "one.crt"))), expect_rc=0).result("app")
    assert not same["changed"] and sandbox.writes(since=mark) == []
    added = run_playbook(play(task(credential="certificate", certificate_path=str(tmp_path / "two.crt"))), diff=True, expect_rc=0).result("app")
    assert added["registration"]["certificates"] == sorted([first["thumbprint"], second["thumbprint"]])
    app = registrations(sandbox)["applications"][0]
    assert sorted(k["customKeyIdentifier"] for k in app["keyCredentials"]) == sorted([first["thumbprint"], second["thumbprint"]])
    assert app["passwordCredentials"] == []  # a certificate app gets no secret
