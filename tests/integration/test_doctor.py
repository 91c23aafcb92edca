# -*- coding: utf-8 -*-
"""playbooks/doctor.yml (issue 16): against the sandbox (ok or the expected warnings, no write), its real-tenant variants
profile, an app short of a permission (an error line naming it), Practice Protect unreachable (error lines; Microsoft 365
still checked), and the snapshot round trip (the doctor writes it, a second sandbox starts from it, the doctor's report of
that sandbox shows the same domains and SKUs). No secret in the reports or the snapshot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

from tests.integration.conftest import REQUESTS, SECRETS, worker_id
from tests.integration.support import last_seq, playbook
from tests.sandbox.client import start_sandbox
from tests.sandbox.state import EXCHANGE_ADMIN, WRITE_ROLES

# What the default sandbox deserves a warning for: an unverified domain, a SKU without a free seat, no app registrations
# endpoint, a System Administrator client, and so no evidence of a provisioning method.
EXPECTED_WARNINGS = {"domains", "licences (SKUs and free seats)", "admin rights of the client", "provisioning mechanism"}


def run_doctor(run_playbook, tmp_path, env=None, **extra):
    extra.setdefault("doctor_report_dir", str(tmp_path / "reports"))
    run = run_playbook(playbook("doctor.yml"), extra_vars=extra, env=env)
    assert run.rc == 0, run.stdout[-4000:]
    result = run.result("Check the tenant")
    return result, dict((line["check"], line) for line in result["checks"])


def secrets_of(env):
    return [value for key, value in env.items() if key.endswith(("CLIENT_SECRET", "ADMIN_TOKEN")) and value]


def assert_no_secret(paths, env, *extra):
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        for secret in secrets_of(env) + list(extra):
            assert secret not in text, path


def test_the_sandbox_is_ready_and_nothing_is_written(sandbox, run_playbook, tmp_path):
    start = last_seq(sandbox)
    result, lines = run_doctor(run_playbook, tmp_path)
    assert sandbox.writes(start) == []
    problems = dict((check, line["detail"]) for check, line in lines.items() if line["status"] != "ok")
    assert set(problems) == EXPECTED_WARNINGS and result["summary"]["error"] == 0, problems
    assert lines["job API (swagger)"]["detail"].endswith("The job paths outbound_sync uses are listed.")
    assert lines["permissions of role onboard_user"]["status"] == "ok"
    assert "Exchange Administrator" in lines["directory roles of the app"]["detail"]
    assert_no_secret(result["report_files"].values(), sandbox.env)
    with open(result["report_files"]["markdown"]) as handle:
        assert "| warning | Microsoft 365 | licences (SKUs and free seats) | ENTERPRISEPACK 0 of 2 free;" in handle.read()


def test_the_real_tenant_variants_profile(sandbox, run_playbook, tmp_path):
    sandbox.configure(pp_profile="real_tenant_variants")
    lines = run_doctor(run_playbook, tmp_path)[1]
    assert [c for c, line in lines.items() if line["status"] == "error"] == []
    assert lines["job API (swagger)"]["status"] == "warning"
    assert "Not listed: /Provisioning/StartSync, /Provisioning/GetJobStatus" in lines["job API (swagger)"]["detail"]
    assert "FDS Federated Directory Service (Active)" in lines["directories"]["detail"]
    assert "Inactive (skipped): AdProxy Active Directory: northwind.local (Inactive), GDS" in lines["directories"]["detail"]
    assert lines["admin rights of the client"]["detail"].startswith("Roles System Administrator")  # rows carry Name, not RoleName


def test_the_provisioning_mechanism_of_a_service_account_tenant(sandbox, run_playbook, tmp_path):
    from tests.integration.plugins.modules.pp_support import make_service_account
    make_service_account(sandbox)
    lines = run_doctor(run_playbook, tmp_path)[1]
    assert lines["service account"]["detail"].startswith("practiceprotect@northwindacct.onmicrosoft.com exists, holds Global Administrator")
    assert lines["provisioning mechanism"]["status"] == "ok"
    assert lines["provisioning mechanism"]["detail"].startswith("Service account (Global Administrator)")


def test_an_app_short_of_a_permission_gets_an_error_line_naming_it(sandbox, run_playbook, tmp_path):
    app = sandbox.add_app("doctor without Organization.Read.All", [p for p in WRITE_ROLES if p != "Organization.Read.All"],
                          directory_roles=[EXCHANGE_ADMIN])
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    result, lines = run_doctor(run_playbook, tmp_path, env=env)
    line = lines["permissions of m365_user"]
    assert line["status"] == "error" and line["detail"] == "Lacks Organization.Read.All." and "Organization.Read.All" in line["action"]
    assert lines["licences (SKUs and free seats)"]["status"] == "error"
    assert "Organization.Read.All" in lines["licences (SKUs and free seats)"]["detail"]
    assert lines["permissions of m365_alias"]["status"] == "ok" and lines["domains"]["status"] == "warning"
    assert_no_secret(result["report_files"].values(), sandbox.env, app["client_secret"])


def test_practice_protect_unreachable_is_an_error_line_and_microsoft_365_still_ran(sandbox, run_playbook, tmp_path):
    result, lines = run_doctor(run_playbook, tmp_path, env={"PP_URL": "https://127.0.0.1:1"}, doctor_fail_on_error=False)
    for check in ("token", "admin rights of the client", "directories", "roles", "application Office 365", "job API (swagger)"):
        assert lines[check]["status"] == "error", check
    assert "refused the connection" in lines["token"]["detail"]
    assert lines["permissions of pp_user"]["status"] == "warning"
    for check in ("credential", "token and application permissions", "directory roles of the app", "reachable with the app's role",
                  "permissions of m365_user"):
        assert lines[check]["status"] == "ok", check
    assert result["summary"]["error"] == 6


def test_fail_on_error_fails_the_play(sandbox, run_playbook, tmp_path):
    run = run_playbook(playbook("doctor.yml"), extra_vars={"doctor_report_dir": str(tmp_path / "r"), "doctor_fail_on_error": True},
                       env={"PP_URL": "https://127.0.0.1:1"})
    assert run.rc != 0
    assert run.result("Check the tenant")["msg"].startswith("The doctor found 6 error(s): token: ")


def test_the_snapshot_round_trip(sandbox, run_playbook, tmp_path):
    path = str(tmp_path / "tenant.json")
    first, lines = run_doctor(run_playbook, tmp_path, doctor_snapshot_path=path, doctor_snapshot_users=True)
    assert first["snapshot_path"] == path and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert_no_secret([path], sandbox.env)
    with open(path) as handle:
        snap = json.load(handle)
    assert "password" not in json.dumps(snap).lower()
    assert sorted(u["userPrincipalName"] for u in snap["users"]) == sorted(
        u["userPrincipalName"] for u in sandbox.state()["users"] if u["_state"] == "active")
    env = dict(os.environ, SANDBOX_SECRETS_FILE=os.path.join(SECRETS, "%s.jsonl" % worker_id()),
               SANDBOX_REQUEST_LOG_FILE=os.path.join(REQUESTS, "%s.jsonl" % worker_id()))
    copy = start_sandbox(tempfile.mkdtemp(prefix="m365-sandbox-snapshot-"), env=env, args=["--snapshot", path])
    try:
        second, copied = run_doctor(run_playbook, tmp_path, env=copy.env, doctor_snapshot_path=str(tmp_path / "again.json"),
                                    doctor_snapshot_users=True)
        for check in ("domains", "licences (SKUs and free seats)", "roles", "directories", "application Office 365"):
            assert copied[check]["detail"] == lines[check]["detail"], check
        with open(str(tmp_path / "again.json")) as handle:
            again = json.load(handle)
        for key in ("domains", "skus", "groups", "directory_roles", "users", "practice_protect"):
            assert again[key] == snap[key], key
        assert copy.env["M365_CLIENT_SECRET"] != sandbox.env["M365_CLIENT_SECRET"]
        assert_no_secret(list(second["report_files"].values()) + [str(tmp_path / "again.json")], copy.env)
    finally:
        copy.stop()
