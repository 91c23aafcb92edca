# -*- coding: utf-8 -*-
"""outbound_sync through real ansible-playbook runs, and the federated joiner flow of seed 000 end to end."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from tests.integration.plugins.modules.pp_support import (PREMIUM, client_with_rights, documented_pp_rights, fill_seats, graph_user,
                                                          make_service_account, mark, pp_state, task)
from tests.integration.support import play

JANE = "jane.citizen@northwindacct.com"
ALIASES = (JANE, "jane@northwindacct.com", "j.citizen@northwindacct.com")


def sync_task(title="sync", register="r", **options):
    return task("outbound_sync", title, register, **options)


def federated_joiner(name=JANE, display_name="Jane Citizen", aliases=ALIASES, **sync_options):
    """Seed 000 as one play: the Practice Protect user with its aliases, the Office 365 role, the sync, the check."""
    sync_options.setdefault("poll_interval", 1)
    return play(
        task("pp_user", "Practice Protect user with aliases", "pp", user=name, display_name=display_name, mail=name,
             mobile_number="+61 412 345 678", proxy_addresses=aliases),
        task("pp_role_member", "Into the Office 365 role", role="Office 365", members={"add": [name]}),
        task("pp_role_member", "Other roles like a colleague", copy_from="tom.baker@northwindacct.com", members={"add": [name]}),
        task("outbound_sync", "Provision to Microsoft 365 and confirm", "sync", users=[name], verify_upns=True, **sync_options),
        {"name": "Confirm the licence", "ansible.builtin.assert": {
            "that": ["sync.verified[0].exists", "'O365_BUSINESS_PREMIUM' in sync.verified[0].licenses"],
            "fail_msg": "{{ sync.verified | to_json }}"}},
    )


def test_federated_joiner_end_to_end(sandbox, run_playbook):
    make_service_account(sandbox)
    run = run_playbook(federated_joiner(), expect_rc=0)
    sync = run.result("Provision to Microsoft 365 and confirm")
    assert sync["changed"] and sync["job"]["State"] == "Succeeded"
    assert sync["summary"] == {"Created": 1, "Updated": 0, "Disabled": 0, "Deleted": 0, "Unchanged": 0, "Failed": 0}
    assert sync["failures"] == []
    verified = sync["verified"][0]
    assert verified["user_principal_name"] == JANE and verified["licenses"] == ["O365_BUSINESS_PREMIUM"]
    assert verified["addresses_applied"] is True
    created = graph_user(sandbox, JANE)
    assert created["id"] == verified["id"] and created["displayName"] == "Jane Citizen" and created["accountEnabled"] is True
    assert [lic["skuId"] for lic in created["assignedLicenses"]] == [PREMIUM]
    assert created["mail"] == JANE
    proxies = created["proxyAddresses"]
    assert "SMTP:" + JANE in proxies and "smtp:jane@northwindacct.com" in proxies and "smtp:j.citizen@northwindacct.com" in proxies
    assert created["onPremisesImmutableId"]
    # the role change queued an automatic sync as well; the manual one did the work
    assert {j["Trigger"] for j in pp_state(sandbox)["jobs"]} == {"Manual", "RoleMembershipChange"}

    since = mark(sandbox)
    again = run_playbook(federated_joiner(), expect_rc=0)
    assert again.changed() == 0
    r = again.result("Provision to Microsoft 365 and confirm")
    assert r["summary"]["Unchanged"] == 1 and not r["changed"]
    # the only write is the sync job itself (its report is the point of the task)
    assert [w["path"] for w in sandbox.writes(since=since)] == ["/Provisioning/StartSync"]


def test_federated_joiner_reports_clearly_when_no_seat_is_free(sandbox, run_playbook):
    make_service_account(sandbox)
    seats = fill_seats(sandbox)
    run = run_playbook(federated_joiner())
    assert run.rc == 2
    r = run.result("Provision to Microsoft 365 and confirm")
    assert r["msg"] == (
        "Outbound provisioning for Office 365 finished with 1 user failure: jane.citizen@northwindacct.com: User "
        "jane.citizen@northwindacct.com was created in Office 365 without a licence: no O365_BUSINESS_PREMIUM licence is available "
        "(%d bought, %d in use). Buy a seat or free one, then assign it (NoLicenseAvailable)." % (seats, seats))
    assert r["job"]["State"] == "CompletedWithErrors" and r["summary"]["Created"] == 1 and r["summary"]["Failed"] == 1
    assert r["failures"][0]["Reason"] == "NoLicenseAvailable"
    created = graph_user(sandbox, JANE)
    assert created is not None and created["assignedLicenses"] == []

    # a nightly run can take the report without failing
    run = run_playbook(play(sync_task(fail_on_user_errors=False)), expect_rc=0)
    r = run.result("sync")
    assert r["job"]["State"] == "Succeeded" and r["summary"]["Created"] == 0 and r["failures"] == []
    assert graph_user(sandbox, JANE)["assignedLicenses"] == []  # the job licenses at creation only


def test_sync_fails_without_the_service_account(sandbox, run_playbook):
    tasks = [task("pp_user", "user", user=JANE, display_name="Jane Citizen"),
             task("pp_role_member", "role", role="Office 365", members={"add": [JANE]}),
             sync_task(users=[JANE])]
    run = run_playbook(play(*tasks))
    assert run.rc == 2
    r = run.result("sync")
    assert r["job"]["State"] == "Failed" and r["failures"][0]["User"] is None
    assert r["msg"].startswith("The outbound provisioning job %s for Office 365 failed: The Office 365 service account "
                               "practiceprotect@northwindacct.onmicrosoft.com does not exist in Microsoft 365, so Practice Protect cannot "
                               "sign in to provision users. Create it with the Global Administrator role (the federation purpose), then "
                               "start the sync again (ServiceAccountMissing)." % r["job"]["JobId"])
    assert graph_user(sandbox, JANE) is None
    assert not [w for w in sandbox.writes() if w["service"] == "graph"]

    make_service_account(sandbox, global_admin=False)
    run = run_playbook(play(sync_task(users=[JANE])))
    r = run.result("sync")
    if run.rc == 2:  # the sandbox emulates directory roles: the account must hold Global Administrator
        assert r["failures"][0]["Reason"] == "ServiceAccountNotGlobalAdmin"
        assert "does not hold the Global Administrator role" in r["msg"]
        assert graph_user(sandbox, JANE) is None
    else:
        assert r["summary"]["Created"] == 1


def test_preview_is_accurate_and_starts_nothing(sandbox, run_playbook):
    sandbox.configure(pp_auto_sync_delay_s=3600)  # only this test's own syncs run, however slow the machine is
    make_service_account(sandbox)
    setup = [
        task("pp_user", "new joiner", user=JANE, display_name="Jane Citizen", proxy_addresses=[JANE]),
        task("pp_role_member", "new joiner in scope", role="Office 365", members={"add": [JANE, "priya.patel@northwindacct.com"]}),
        task("pp_user", "renamed", user="tom.baker@northwindacct.com", display_name="Thomas Baker"),
        task("pp_role_member", "leaver out of scope", role="Office 365", members={"remove": ["sarah.jones@northwindacct.com"]}),
    ]
    run_playbook(play(*setup), expect_rc=0)
    since = mark(sandbox)
    preview = run_playbook(play(sync_task()), check=True, expect_rc=0).result("sync")
    assert preview["changed"] and preview["job"] is None
    assert preview["preview"] == {"create": [JANE, "priya.patel@northwindacct.com"],
                                  "update": [{"user": "tom.baker@northwindacct.com", "changes": ["displayName"]}],
                                  "disable": ["sarah.jones@northwindacct.com"], "unchanged": [], "conflicts": []}
    assert sandbox.writes(since=since) == [] and graph_user(sandbox, JANE) is None
    assert not [j for j in pp_state(sandbox)["jobs"] if j["Trigger"] == "Manual"]

    run = run_playbook(play(sync_task(poll_interval=1)), expect_rc=0).result("sync")
    summary = run["summary"]
    p = preview["preview"]
    assert (summary["Created"], summary["Updated"], summary["Disabled"]) == (len(p["create"]), len(p["update"]), len(p["disable"]))
    assert graph_user(sandbox, "sarah.jones@northwindacct.com")["accountEnabled"] is False
    assert graph_user(sandbox, "tom.baker@northwindacct.com")["displayName"] == "Thomas Baker"

    after = run_playbook(play(sync_task()), check=True, expect_rc=0).result("sync")
    assert not after["changed"]
    assert after["preview"]["unchanged"] == [JANE, "priya.patel@northwindacct.com", "tom.baker@northwindacct.com"]

    # a subset previews and syncs only those users
    run_playbook(play(task("pp_role_member", "back in scope", role="Office 365", members={"add": ["sarah.jones@northwindacct.com"]}),
                      task("pp_user", "renamed again", user="tom.baker@northwindacct.com", display_name="Tom Baker")), expect_rc=0)
    subset = run_playbook(play(sync_task(users=["sarah.jones@northwindacct.com"])), check=True, expect_rc=0).result("sync")
    assert subset["preview"]["update"] == [{"user": "sarah.jones@northwindacct.com", "changes": ["accountEnabled"]}]
    assert subset["preview"]["create"] == [] and subset["preview"]["disable"] == []
    run = run_playbook(play(sync_task(users=["sarah.jones@northwindacct.com"])), expect_rc=0).result("sync")
    assert run["summary"]["Updated"] == 1 and run["summary"]["Unchanged"] == 0
    assert graph_user(sandbox, "tom.baker@northwindacct.com")["displayName"] == "Thomas Baker"  # not in the subset


def test_waits_for_a_running_job_and_times_out_clearly(sandbox, run_playbook):
    make_service_account(sandbox)
    sandbox.configure(pp_sync_duration_s=2)
    run = run_playbook(play(sync_task(title="waits", poll_interval=1),
                            sync_task(title="no wait", register="nw", wait=False)), expect_rc=0)
    waited = run.result("waits")
    assert waited["job"]["State"] == "Succeeded" and waited["job"]["EndTime"]
    assert waited["pp_requests"] >= 4  # token, lookups, start, more than one status read
    nowait = run.result("no wait")
    assert nowait["changed"] and nowait["job"]["JobId"] and nowait["job"]["State"] == "Queued"
    sandbox.configure(pp_sync_duration_s=30)
    run = run_playbook(play(sync_task(timeout=2, poll_interval=1)))
    assert run.rc == 2
    r = run.result("sync")
    assert r["msg"].startswith("The outbound provisioning job %s for Office 365 did not finish within 2 s" % r["job"]["JobId"])


BAD_INPUTS = [
    ("unknown app", dict(app="Office365"),
     "Unknown application 'Office365'. Close matches: Office 365. Applications with outbound provisioning: Office 365."),
    ("no provisioning", dict(app="Dropbox Business"),
     "Application Dropbox Business has no outbound provisioning configured. Configure it in the Admin Portal (Apps > Dropbox Business > "
     "Provisioning) first."),
    ("unknown user", dict(users=["jane.citizn@northwindacct.com"]),
     "Unknown user: no Practice Protect user has the login name or e-mail jane.citizn@northwindacct.com (no close match). Invite or "
     "create the user first (pp_user)."),
    ("bad timeout", dict(timeout=0), "timeout must be at least 1 second."),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    tasks = []
    for name, opts, _ in BAD_INPUTS:
        t = sync_task(title=name, **opts)
        t["ignore_errors"] = True
        tasks.append(t)
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, _, message in BAD_INPUTS:
        t = run.task(name)
        assert t["status"] == "failed", name
        assert t["result"]["msg"] == message, (name, t["result"]["msg"])
    assert sandbox.writes() == []
    run = run_playbook(play(sync_task()), check=True, env={"M365_TENANT_ID": None})
    assert run.result("sync")["msg"] == ("Check mode (the preview) compares with Microsoft 365 and needs its connection: set tenant_id "
                                         "(or the M365_* environment variables).")
    assert sandbox.writes() == []


def test_documented_rights_are_enough(sandbox, run_playbook):
    make_service_account(sandbox)
    since = mark(sandbox)
    rights = documented_pp_rights("outbound_sync")
    assert rights == ["Application Management"]
    env = client_with_rights(sandbox, "apps-admin@northwindacct.com", rights)
    run = run_playbook(play(sync_task()), env=env, expect_rc=0)
    assert run.result("sync")["job"]["State"] == "Succeeded"
    env = client_with_rights(sandbox, "users-admin@northwindacct.com", ["User Management"])
    run = run_playbook(play(sync_task()), env=env)
    assert run.rc == 2 and run.result("sync")["error_code"] == "Unauthorized"
    assert "needs the Application Management admin right" in run.result("sync")["msg"]
    assert not [w for w in sandbox.writes(since) if w["service"] == "graph"]


# -- every mode, with and without the job API ------------------------------------------------------------------------------

def job_calls(sandbox, since=0):
    return [e["path"] for e in sandbox.log(since) if e["service"] == "pp" and e["path"].lower().startswith("/provisioning/")]


def assert_provisioned(sandbox, sync):
    verified = sync["verified"][0]
    assert verified["exists"] and verified["licenses"] == ["O365_BUSINESS_PREMIUM"] and verified["addresses_applied"], sync
    created = graph_user(sandbox, JANE)
    assert created["accountEnabled"] and "smtp:jane@northwindacct.com" in created["proxyAddresses"]


@pytest.mark.parametrize("mode, job_api", [("start", True), ("wait", True), ("auto", True), ("wait", False), ("auto", False)])
def test_a_federated_joiner_completes_in_every_mode(sandbox, run_playbook, mode, job_api):
    """start uses the job; wait makes no job call and waits for the sync the role change triggered; auto starts, and on a tenant
    without the job API (pp_job_api false: the endpoints answer 404) warns and waits. A re-run changes nothing."""
    used = "start" if mode == "start" or (mode == "auto" and job_api) else "wait"
    # the automatic sync after the role change: soon when the task waits for it, else late so the task's own job does the work
    sandbox.configure(pp_job_api=job_api, pp_auto_sync_delay_s=8 if used == "wait" else 3600)
    make_service_account(sandbox)
    run = run_playbook(federated_joiner(mode=mode, timeout=120), expect_rc=0)
    sync = run.result("Provision to Microsoft 365 and confirm")
    assert_provisioned(sandbox, sync)
    assert sync["mode"] == used and sync["changed"]
    calls = job_calls(sandbox)
    warnings = " ".join(sync.get("warnings") or [])
    if used == "start":
        assert sync["job"]["State"] == "Succeeded" and calls[0] == "/Provisioning/StartSync" and not warnings
    elif mode == "wait":
        assert calls == [] and sync["job"] is None and not warnings
    else:
        assert calls == ["/Provisioning/StartSync"] and sync["job"] is None
        assert warnings.startswith("Practice Protect has no job endpoint at /Provisioning/StartSync (Practice Protect answered HTTP 404 for "
                                   "/Provisioning/StartSync: The API /Provisioning/StartSync does not exist), so starting the outbound "
                                   "provisioning job is not possible on this tenant. Waiting for Microsoft 365 to show the users instead")
    if used == "wait":
        progress = sync["progress"]
        assert progress[0]["seconds"] == 0 and progress[0]["missing"] == [JANE] and progress[0]["of"] == 1
        assert progress[-1]["shown"] == 1 and progress[-1]["missing"] == []
    since = mark(sandbox)
    again = run_playbook(federated_joiner(mode=mode, timeout=120), expect_rc=0)
    r = again.result("Provision to Microsoft 365 and confirm")
    assert not r["changed"] and again.changed() == 0
    writes = [w["path"] for w in sandbox.writes(since=since)]
    assert writes == (["/Provisioning/StartSync"] if used == "start" else []), writes  # a 404 writes nothing


def test_mode_start_on_a_tenant_without_the_job_api_fails_naming_the_endpoint(sandbox, run_playbook):
    sandbox.configure(pp_job_api=False, pp_auto_sync_delay_s=3600)
    make_service_account(sandbox)
    run = run_playbook(federated_joiner(mode="start"))
    assert run.rc == 2
    r = run.result("Provision to Microsoft 365 and confirm")
    assert r["msg"] == "Practice Protect answered HTTP 404 for /Provisioning/StartSync: The API /Provisioning/StartSync does not exist."
    assert r["status"] == 404 and r["path"] == "/Provisioning/StartSync"


def test_job_paths_point_the_job_calls_elsewhere(sandbox, run_playbook):
    """The tenant's own endpoints (job_paths): a wrong start path is answered 404 and, with mode start, named in the failure;
    the contract's paths given explicitly work as the defaults do."""
    make_service_account(sandbox)
    run_playbook(play(task("pp_user", "user", user=JANE, display_name="Jane Citizen"),
                      task("pp_role_member", "role", role="Office 365", members={"add": [JANE]})), expect_rc=0)
    run = run_playbook(play(sync_task(users=[JANE], mode="start", job_paths={"start": "/Tenant/StartOffice365Sync"})))
    assert run.rc == 2 and run.result("sync")["path"] == "/Tenant/StartOffice365Sync"
    run = run_playbook(play(sync_task(users=[JANE], mode="start", poll_interval=1,
                                      job_paths={"start": "/provisioning/startsync", "status": "/Provisioning/GetJobStatus"})), expect_rc=0)
    assert run.result("sync")["job"]["State"] == "Succeeded"
    assert job_calls(sandbox)[-2:] == ["/provisioning/startsync", "/Provisioning/GetJobStatus"]
    bad = run_playbook(play(sync_task(users=[JANE], job_paths={"history": "/X"})))
    assert bad.rc == 2 and bad.result("sync")["msg"] == "job_paths: history is not a job endpoint; give start and status."


def test_mode_wait_names_who_is_still_missing_at_the_timeout(sandbox, run_playbook):
    """No job API and an automatic sync that comes too late: the task fails at its timeout, naming the user and what is missing."""
    sandbox.configure(pp_job_api=False, pp_auto_sync_delay_s=3600)
    make_service_account(sandbox)
    run = run_playbook(federated_joiner(mode="wait", timeout=3))
    assert run.rc == 2
    r = run.result("Provision to Microsoft 365 and confirm")
    assert r["msg"].startswith("After 3 s Microsoft 365 still does not show 1 of 1 users as the Office 365 sync leaves them: "
                               "jane.citizen@northwindacct.com (not in Microsoft 365). Practice Protect syncs after a role change and on its "
                               "schedule")
    assert r["progress"][-1]["missing"] == [JANE] and r["verified"][0]["exists"] is False
    bad = run_playbook(play(sync_task(users=[JANE], mode="wait", wait=False)))
    assert bad.rc == 2 and bad.result("sync")["field"] == "wait"


def test_mode_wait_and_the_fallback_need_the_microsoft_365_connection(sandbox, run_playbook):
    sandbox.configure(pp_job_api=False, pp_auto_sync_delay_s=3600)
    env = {"M365_TENANT_ID": "", "M365_CLIENT_ID": "", "M365_CLIENT_SECRET": ""}
    run = run_playbook(play(sync_task(users=["tom.baker@northwindacct.com"], mode="wait")), env=env)
    assert run.rc == 2 and run.result("sync")["msg"].startswith("mode wait compares with Microsoft 365 and needs its connection: set ")
    since = mark(sandbox)
    run = run_playbook(play(sync_task(users=["tom.baker@northwindacct.com"])), env=env)
    assert run.rc == 2 and run.result("sync")["msg"].startswith(
        "This Practice Protect tenant has no job endpoint at /Provisioning/StartSync, and waiting for Microsoft 365 instead needs its connection")
    assert job_calls(sandbox, since) == ["/Provisioning/StartSync"]


def test_a_federated_joiner_on_the_real_tenant_variants(sandbox, run_playbook):
    """Every variant at once (no job API, FDS and inactive directories, RoleName rows as Name, Count as the page size, no
    DuplicateUserName, ExtData as strings): the seed 000 play with copy_from completes, and a re-run changes nothing."""
    sandbox.configure(pp_profile="real_tenant_variants", pp_auto_sync_delay_s=1)
    make_service_account(sandbox)
    run = run_playbook(federated_joiner(timeout=120), expect_rc=0)
    sync = run.result("Provision to Microsoft 365 and confirm")
    assert_provisioned(sandbox, sync)
    assert sync["mode"] == "wait" and sorted(run.result("Other roles like a colleague")["roles"]) == ["Portal Access", "Tax Team"]
    since = mark(sandbox)
    again = run_playbook(federated_joiner(timeout=120), expect_rc=0)
    assert again.changed() == 0 and [w["path"] for w in sandbox.writes(since=since)] == []


@pytest.mark.parametrize("knobs", [{"pp_job_api": False}, {"pp_profile": "real_tenant_variants"}], ids=["no-job-api", "real-tenant-variants"])
def test_the_onboarding_engine_completes_federated_joiners_on_a_tenant_without_the_job_api(sandbox, run_playbook, tmp_path, knobs):
    """The onboard role's sync step (outbound_sync, mode auto) falls back to waiting for the sync the role change triggered."""
    from tests.integration.roles.test_onboard_user import inventory, playbook, service_account
    sandbox.configure(pp_auto_sync_delay_s=3, **knobs)
    service_account(run_playbook)
    hosts = inventory(tmp_path, {
        "mia.nguyen": {"onboard_deployment": "federated", "onboard_provisioning": "service_account",
                       "person": {"upn": "mia.nguyen@northwindacct.com", "given_name": "Mia", "surname": "Nguyen",
                                  "aliases": ["mia@northwindacct.com"]}},
        "liam.wilson": {"onboard_deployment": "federated", "onboard_provisioning": "service_account",
                        "person": {"upn": "liam.wilson@northwindacct.com", "given_name": "Liam", "surname": "Wilson",
                                   "pp_roles": ["Portal Access"]}},
    })
    run = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=0)
    facts = dict((t["host"], t["result"]["ansible_facts"]["onboard_result"]) for t in run.tasks
                 if "onboard_result" in (t["result"].get("ansible_facts") or {}))
    assert facts["mia.nguyen"]["sync"] == facts["liam.wilson"]["sync"] == "provisioned, licences: O365_BUSINESS_PREMIUM"
    mia = graph_user(sandbox, "mia.nguyen@northwindacct.com")
    assert mia["accountEnabled"] and "smtp:mia@northwindacct.com" in mia["proxyAddresses"]
    assert job_calls(sandbox) == ["/Provisioning/StartSync"]  # tried once (answered 404), then waited
    since = mark(sandbox)
    again = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=0)
    assert [w["path"] for w in sandbox.writes(since=since)] == []
    assert again.stats["mia.nguyen"]["failures"] == 0
