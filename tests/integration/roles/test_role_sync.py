# -*- coding: utf-8 -*-
"""The role_sync role through the real playbook (playbooks/sync.yml): preview, apply, leavers, skips, the threshold.

The sandbox's seed: the Graph group "All Staff" holds sarah.jones, the room mailbox boardroom (sign-in blocked, no
licence), it.admin on the onmicrosoft.com domain, and the group "Tax Team" (tom.baker). Practice Protect's roles:
Portal Access (priya.patel, reception, sarah.jones, tom.baker), Office 365 (sarah.jones, tom.baker), Tax Team
(priya.patel, tom.baker), Audit Team (sarah.jones).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from tests.integration.support import ROOT
from tests.integration.plugins.modules.pp_support import make_service_account, mark, pp_state, pp_writes, role_members

DOMAIN = "northwindacct.com"
SARAH, TOM, PRIYA, RECEPTION = ("%s@%s" % (name, DOMAIN) for name in ("sarah.jones", "tom.baker", "priya.patel", "reception"))
IT_ADMIN = "it.admin@northwindacct.onmicrosoft.com"
SHARED = "accounts@" + DOMAIN          # an enabled shared mailbox without a licence: non-billable
NEWCOMER = "new.starter@" + DOMAIN     # licensed in Microsoft 365, not invited into Practice Protect yet


def playbook():
    with open(os.path.join(ROOT, "playbooks", "sync.yml")) as handle:
        return handle.read()


def sync(run_playbook, reports, roles, **kwargs):
    extra = {"role_sync_roles": roles}
    if reports is not None:
        extra["role_sync_report_dir"] = str(reports)
    return run_playbook(playbook(), extra_vars=extra, **kwargs)


def report(reports, name="latest"):
    with open(os.path.join(str(reports), name + ".json")) as handle:
        return json.load(handle)


def by_role(data):
    return dict((entry["role"], entry) for entry in data["roles"])


def changes(data):
    return dict((entry["role"], (entry["added"], entry["removed"])) for entry in data["roles"])


def role_task(run, name):
    """The result of one of the role's tasks (recorded as "<role> : <task>")."""
    found = [t for t in run.tasks if t["task"].split(" : ")[-1] == name]
    assert found, "task %r did not run; output:\n%s" % (name, run.stdout[-3000:])
    return found[-1]["result"]


def graph_group(sandbox, graph, name):
    response = graph.get(sandbox.graph_url + "/groups", params={"$filter": "displayName eq '%s'" % name}, timeout=30)
    assert response.status_code == 200, response.text
    (group,) = response.json()["value"]
    return group["id"]


def add_to_group(sandbox, group_name, object_ids):
    with sandbox.graph_session() as graph:
        group = graph_group(sandbox, graph, group_name)
        for object_id in object_ids:
            response = graph.post(sandbox.graph_url + "/groups/%s/members/$ref" % group,
                                  json={"@odata.id": sandbox.graph_url + "/directoryObjects/" + object_id}, timeout=30)
            assert response.status_code == 204, response.text


def remove_from_group(sandbox, group_name, upns=None):
    """Remove members (by UPN; every direct member when None) from a group through Graph's $ref DELETE."""
    with sandbox.graph_session() as graph:
        group = graph_group(sandbox, graph, group_name)
        response = graph.get(sandbox.graph_url + "/groups/%s/members" % group, timeout=30)
        assert response.status_code == 200, response.text
        members = response.json()["value"]
        assert members, "the seed's %s has members" % group_name
        for member in members:
            if upns is not None and (member.get("userPrincipalName") or "").lower() not in upns:
                continue
            response = graph.delete(sandbox.graph_url + "/groups/%s/members/%s/$ref" % (group, member["id"]), timeout=30)
            assert response.status_code == 204, response.text


def disable(sandbox, upn):
    with sandbox.graph_session() as graph:
        response = graph.patch(sandbox.graph_url + "/users/" + upn, json={"accountEnabled": False}, timeout=30)
        assert response.status_code == 204, response.text


def seed_staff(sandbox):
    """An enabled shared mailbox (no licence) and a licensed newcomer, both in All Staff."""
    created = sandbox.seed([{"userPrincipalName": SHARED, "displayName": "Accounts", "mailboxType": "SharedMailbox"},
                            {"userPrincipalName": NEWCOMER, "displayName": "New Starter", "usageLocation": "AU",
                             "licenses": ["O365_BUSINESS_PREMIUM"]}])["created"]
    add_to_group(sandbox, "All Staff", created)


def test_preview_matches_the_apply_then_nothing_to_do(sandbox, run_playbook, tmp_path):
    seed_staff(sandbox)
    reports = tmp_path / "reports"
    roles = [{"role": "Portal Access", "filters": {"member_of": ["All Staff"]}, "max_removals": "50%"},
             {"role": "Audit Team", "filters": {"member_of": ["All Staff"]}}]
    before = mark(sandbox)
    preview = sync(run_playbook, reports, roles, check=True, diff=True, expect_rc=0)
    assert sandbox.writes(since=before) == []
    planned = report(reports)
    assert planned["preview"] is True
    assert changes(planned) == {"Portal Access": ([], [PRIYA, RECEPTION]), "Audit Team": ([TOM], [])}
    skipped = sorted((s["user"], s["reason"], s.get("mailbox_type")) for s in by_role(planned)["Portal Access"]["skipped"])
    assert skipped == [(SHARED, "non-billable", "SharedMailbox"), (IT_ADMIN, "onmicrosoft", None), (NEWCOMER, "not in Practice Protect", None)]
    assert by_role(planned)["Portal Access"]["removal_limit"] == 2
    assert role_members(sandbox, "Portal Access") == [PRIYA, RECEPTION, SARAH, TOM]
    assert "+++ after" in preview.stdout  # the diff of the role's members
    markdown = (reports / "latest.md").read_text()
    assert "Preview" in markdown and "| Portal Access | changed, 2 members |  | %s, %s |" % (PRIYA, RECEPTION) in markdown
    assert [p.name for p in sorted(reports.glob("sync-*-preview.json"))] and (reports / "latest.md").exists()

    applied_run = sync(run_playbook, reports, roles, expect_rc=0)
    applied = report(reports)
    assert applied["preview"] is False
    assert changes(applied) == changes(planned)
    assert [e["skipped"] for e in applied["roles"]] == [e["skipped"] for e in planned["roles"]]
    assert role_members(sandbox, "Portal Access") == [SARAH, TOM]
    assert role_members(sandbox, "Audit Team") == [SARAH, TOM]
    assert [w["path"] for w in pp_writes(sandbox)] == ["/Roles/UpdateRole", "/Roles/UpdateRole"]
    stats = role_task(applied_run, "Report for AWX (job artifacts)")["ansible_stats"]
    assert stats["per_host"] is False and stats["data"]["role_sync_report"] == applied

    since = mark(sandbox)
    again = sync(run_playbook, reports, roles, expect_rc=0)
    assert sandbox.writes(since=since) == []
    assert again.changed() == 0
    assert [(e["status"], e["added"], e["removed"]) for e in report(reports)["roles"]] == [("unchanged", [], [])] * 2


def test_leavers_drop_out_and_skips_follow_the_settings(sandbox, run_playbook, tmp_path):
    seed_staff(sandbox)
    make_service_account(sandbox)
    sandbox.control("POST", "pp/seed", json={"users": [{"Name": IT_ADMIN}, {"Name": SHARED}]})
    remove_from_group(sandbox, "All Staff", [SARAH])  # a leaver taken out of the group
    disable(sandbox, TOM)                               # a leaver whose sign-in is blocked (tom is in All Staff through Tax Team)
    reports = tmp_path / "reports"
    roles = [
        # Defaults: onmicrosoft and non-billable users skipped; the Office 365 role feeds provisioning.
        {"role": "Office 365", "filters": {"member_of": ["All Staff"]}, "max_removals": 2},
        # Both skips configured off: the onmicrosoft user and the shared mailbox become members.
        {"role": "Tax Team", "filters": {"member_of": ["All Staff"], "exclude_onmicrosoft": False}, "skip_non_billable": False,
         "max_removals": 5},
    ]
    sync(run_playbook, reports, roles, expect_rc=0)
    data = by_role(report(reports))

    office = data["Office 365"]
    assert (office["added"], office["removed"]) == ([], [SARAH, TOM])
    assert role_members(sandbox, "Office 365") == []
    assert sorted((s["user"], s["reason"]) for s in office["skipped"]) == [(SHARED, "non-billable"), (IT_ADMIN, "onmicrosoft"),
                                                                           (NEWCOMER, "not in Practice Protect")]
    assert office["provisioning"]["users"] == [SARAH, TOM] and office["provisioning"]["state"] == "Succeeded"
    (job,) = [j for j in pp_state(sandbox)["jobs"] if j["State"] == "Succeeded"]
    assert job["Summary"]["Disabled"] == 1  # sarah left the scope and was disabled; tom was already

    tax = data["Tax Team"]
    assert (tax["added"], tax["removed"]) == ([SHARED, IT_ADMIN], [PRIYA, TOM])
    assert tax["skipped"] == [{"user": NEWCOMER, "reason": "not in Practice Protect"}]
    assert role_members(sandbox, "Tax Team") == [SHARED, IT_ADMIN]
    assert tax["provisioning"] is None


def test_threshold_refuses_to_empty_a_role_when_the_group_is_emptied(sandbox, run_playbook, tmp_path):
    remove_from_group(sandbox, "All Staff")  # the source-side mistake: everyone taken out of the group
    reports = tmp_path / "reports"
    before = mark(sandbox)
    # The default limit (10%) for one role, a count for the other: both reach pp_role_member's max_removals as they are.
    run = sync(run_playbook, reports, [{"role": "Portal Access", "filters": {"member_of": ["All Staff"]}},
                                       {"role": "Office 365", "filters": {"member_of": ["All Staff"]}, "max_removals": 1}])
    assert run.rc == 2

    assert pp_writes(sandbox, since=before) == []
    assert role_members(sandbox, "Portal Access") == [PRIYA, RECEPTION, SARAH, TOM]
    assert role_members(sandbox, "Office 365") == [SARAH, TOM]
    data = report(reports)
    entries = by_role(data)
    assert [e["role"] for e in data["roles"]] == ["Portal Access", "Office 365"]
    message = ("Refusing to remove 4 users from role Portal Access, more than max_removals (10%% of the 4 held now, rounded down, at "
               "least 1: 1): %s, %s, %s, %s. List them to keep them, or raise max_removals if this is intended." % (PRIYA, RECEPTION, SARAH, TOM))
    entry = entries["Portal Access"]
    assert (entry["role"], entry["status"], entry["message"]) == ("Portal Access", "refused", message)
    assert entry["refused_removals"] == [PRIYA, RECEPTION, SARAH, TOM] and entry["removal_limit"] == 1
    assert (entry["added"], entry["removed"], entry["selected"]) == ([], [], 0)
    office_message = ("Refusing to remove 2 users from role Office 365, more than max_removals (1): %s, %s. List them to keep them, or "
                      "raise max_removals if this is intended." % (SARAH, TOM))
    office = entries["Office 365"]
    assert (office["status"], office["message"], office["refused_removals"], office["removal_limit"]) == ("refused", office_message, [SARAH, TOM], 1)
    assert office["provisioning"] is None  # nothing changed, so nothing to provision
    assert data["totals"]["refused"] == 2
    markdown = (reports / "latest.md").read_text()
    assert "| Portal Access | refused |" in markdown and "| Office 365 | refused |" in markdown
    failed = " ".join(role_task(run, "Fail when a role was refused or could not be synced")["msg"].split())
    assert "Portal Access, Office 365: not synced. " + message + " " + office_message in failed


def test_reports_go_to_the_users_ansible_directory_by_default_and_to_the_job_stats(sandbox, run_playbook, tmp_path):
    """Without role_sync_report_dir the reports go to ~/.ansible/practiceprotect_m365/reports of the user running
    ansible-playbook (writable in an execution environment, unlike the installed collection), and the job statistics
    carry the same report and the files' path."""
    home = tmp_path / "home"
    home.mkdir()
    roles = [{"role": "Audit Team", "filters": {"member_of": ["All Staff"]}}]
    run = sync(run_playbook, None, roles, env={"HOME": str(home)}, expect_rc=0)
    reports = home / ".ansible" / "practiceprotect_m365" / "reports"
    written = report(reports)
    assert changes(written) == {"Audit Team": ([TOM], [])}
    stats = role_task(run, "Report for AWX (job artifacts)")["ansible_stats"]
    assert stats["data"]["role_sync_report"] == written
    files = stats["data"]["role_sync_report_files"]
    assert os.path.dirname(files) == str(reports) and os.path.realpath(str(reports / "latest.json")) == files + ".json"
    assert "Report: %s/" % reports in role_task(run, "Summary")["msg"]
    assert not (tmp_path.parent / "reports").exists()  # the old default: next to the playbook's directory
