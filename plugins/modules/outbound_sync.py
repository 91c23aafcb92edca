#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: outbound_sync
short_description: Run Practice Protect's outbound provisioning to Microsoft 365 and wait for its report
version_added: 0.1.0
description:
  - Starts the outbound-provisioning job of a Practice Protect application (by default V(Office 365)), the portal's
    Settings > Users > Outbound Provisioning > Start Sync, waits for it with a timeout, and returns its report (the
    summary and every per-user failure). In federated tenants this is what creates the Microsoft 365 user (seed 000).
  - Fails when the job failed (for example when the tenant's Practice Protect service account does not hold Global
    Administrator) or when any user failed (for example "no licence available"), unless O(fail_on_user_errors=false).
  - O(verify_upns=true) then reads the users back from Microsoft 365 through Graph until they exist, are enabled, and
    (when they hold a mailbox licence) show the proxy addresses of their proxyAddresses attribute.
  - The job endpoints are not publicly documented, so the module also works without them. With O(mode=wait) it makes no
    job call - changing a role's membership triggers Practice Protect's sync, and its scheduled sync runs anyway - and waits
    until Microsoft 365 shows the users as expected, naming who is still missing at the timeout. O(mode=auto), the default,
    starts the job and falls back to waiting, with a warning, when the tenant answers that it has no such endpoint.
  - In check mode the module starts nothing and previews the job instead, comparing the app's scope in Practice Protect
    with Microsoft 365 - which users would be created, updated or disabled. The preview needs the Microsoft 365 connection.
  - The job endpoints are this collection's interface for a platform API that is not publicly documented; see the
    Practice Protect section of docs/getting-started.md for how to confirm them against your tenant, and O(job_paths) to
    use yours.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.practice_protect_auth.CONNECTION
  - practiceprotect.m365.attributes
attributes:
  check_mode:
    details: Check mode previews the job instead of starting it.
  diff_mode:
    support: none
    description:
      - No diff. The sync job has no single object to compare; check mode returns RV(preview) instead.
options:
  app:
    description: Name of the Practice Protect application whose outbound provisioning to run.
    type: str
    default: Office 365
  users:
    description:
      - Only sync these users (login names or e-mail addresses). All users in the app's scope when left out.
    type: list
    elements: str
  scope_roles:
    description:
      - The roles whose members the app provisions. Practice Protect maps the Office 365 app to the role of the same
        name, which is the default. Used by the preview and by O(verify_upns).
    type: list
    elements: str
  mode:
    description:
      - V(start) starts the job through the job endpoints (O(job_paths)) and waits for its report.
      - V(wait) makes no job call. It waits until Microsoft 365 shows every user of O(users) (or everyone in the scope) as the
        sync leaves them - a user in the scope exists, is enabled and shows its proxy addresses; a user who left the scope is
        blocked or gone - and fails at O(timeout) naming who is still missing. It needs the Microsoft 365 connection.
      - V(auto) starts the job and, when the tenant answers that the endpoint does not exist (HTTP 404, 405 or 501, or an
        "unknown method" error), warns and waits as V(wait) does.
    type: str
    choices: [auto, start, wait]
    default: auto
  job_paths:
    description:
      - The tenant's job endpoints, when they differ from this collection's contract (C(start) V(/Provisioning/StartSync),
        C(status) V(/Provisioning/GetJobStatus)); give the ones to change. The request and answer shapes stay those of
        docs/getting-started.md.
    type: dict
  wait:
    description: Wait for the job to finish. With V(false) the task returns the job id at once (not with O(mode=wait)).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the job, or with O(mode=wait) for Microsoft 365 to show the users, before failing.
    type: int
    default: 900
  poll_interval:
    description: Seconds between job status reads.
    type: int
    default: 5
  fail_on_user_errors:
    description: Fail when the job reports any per-user failure. The report is returned either way.
    type: bool
    default: true
  verify_upns:
    description:
      - After the job, read the users (O(users), or everyone in scope) back from Microsoft 365 until they exist, are
        enabled and show their proxy addresses. Needs the Microsoft 365 connection.
    type: bool
    default: false
  verify_timeout:
    description: Seconds to keep reading Microsoft 365 with O(verify_upns=true) before failing.
    type: int
    default: 300
notes:
  - Practice Protect admin rights - Application Management (System Administrator includes it); reads need any admin right.
  - Microsoft Graph application permissions for the preview, O(verify_upns) and O(mode=wait) - C(User.Read.All),
    C(Organization.Read.All).
  - Licences are not previewed - the app's licence settings cannot be read through the API. The job assigns one to the users
    it creates when a seat is free, and reports C(NoLicenseAvailable) otherwise.
seealso:
  - module: practiceprotect.m365.pp_user
  - module: practiceprotect.m365.pp_role_member
"""

EXAMPLES = r"""
- name: Provision a joiner to Microsoft 365 and confirm it arrived
  practiceprotect.m365.outbound_sync:
    users: [jane.citizen@northwindacct.com]
    verify_upns: true

- name: Preview what a full sync would change (starts nothing)
  practiceprotect.m365.outbound_sync:
  check_mode: true
  register: preview

- name: Nightly sync that reports per-user failures without failing the job template
  practiceprotect.m365.outbound_sync:
    fail_on_user_errors: false
  register: sync

- name: On a tenant without the job endpoints, wait for the sync the role change triggered
  practiceprotect.m365.outbound_sync:
    users: [jane.citizen@northwindacct.com]
    mode: wait
    timeout: 1800
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
mode:
  description: How the task synced - V(start) (the job) or V(wait) (waited for Microsoft 365); with O(mode=auto), which one it came to.
  returned: unless in check mode
  type: str
  sample: wait
job:
  description: The job status object at the end (State, StartTime, EndTime, Summary, Failures). None in check mode and with mode wait.
  returned: always
  type: dict
  sample:
    JobId: 2693fcdb-69e4-4c7d-967c-8a3c84f4a620
    State: CompletedWithErrors
    Summary: {Created: 1, Updated: 0, Disabled: 0, Deleted: 0, Unchanged: 2, Failed: 1}
    Failures: [{User: jane.citizen@northwindacct.com, Reason: NoLicenseAvailable, Message: "..."}]
summary:
  description: The job's counts (Created, Updated, Disabled, Deleted, Unchanged, Failed).
  returned: when the job finished
  type: dict
failures:
  description: Per-user failures, each with User (login name; null for a failure of the whole job), Reason and Message.
  returned: when the job finished
  type: list
  elements: dict
preview:
  description: In check mode, the UPNs that would be created, updated (with the fields), disabled, left unchanged, and conflicts.
  returned: check mode
  type: dict
  sample: {create: [jane.citizen@northwindacct.com], update: [], disable: [], unchanged: [tom.baker@northwindacct.com], conflicts: []}
verified:
  description:
    - With O(verify_upns=true) or mode wait, each user as Microsoft 365 shows it (exists, licences, proxy addresses; C(left_scope)
      for a user outside the scope).
  returned: when verify_upns is true or the task waited for Microsoft 365
  type: list
  elements: dict
progress:
  description:
    - With mode wait, how many of the users Microsoft 365 showed as expected, each time that changed (C(seconds) after the
      first read, C(shown), C(of), C(missing)).
  returned: when the task waited for Microsoft 365
  type: list
  elements: dict
  sample: [{seconds: 0, shown: 1, of: 2, missing: [jane.citizen@northwindacct.com]}, {seconds: 42, shown: 2, of: 2, missing: []}]
retries:
  description: How many requests were retried.
  returned: always
  type: int
pp_requests:
  description: How many Practice Protect requests the task sent.
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
replication_waits:
  description: How many times the task waited for directory replication (an object written but not readable yet).
  returned: when the task used Microsoft Graph (O(verify_upns))
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

import time

from ansible_collections.practiceprotect.m365.plugins.module_utils._client import wait_until
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import read_users
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError
from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_roles, _pp_sync
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

SPEC = dict(
    app=dict(type="str", default="Office 365"),
    users=dict(type="list", elements="str"),
    scope_roles=dict(type="list", elements="str"),
    mode=dict(type="str", default="auto", choices=["auto", "start", "wait"]),
    job_paths=dict(type="dict"),
    wait=dict(type="bool", default=True),
    timeout=dict(type="int", default=900),
    poll_interval=dict(type="int", default=5),
    fail_on_user_errors=dict(type="bool", default=True),
    verify_upns=dict(type="bool", default=False),
    verify_timeout=dict(type="int", default=300),
)


def main():
    # Practice Protect first; Microsoft 365 only for the preview and verify_upns.
    Module(SPEC, services=("practice_protect", "graph"), admin_rights=("Application Management",), supports_check_mode=True).run(plan)


def need_graph(m, why):
    absent = m.absent("graph")
    if absent:
        raise v.ValidationError("%s compares with Microsoft 365 and needs its connection: set %s (or the M365_* environment variables)." % (
            why, ", ".join(absent)), field="tenant_id")


def plan(m, p):
    """Read the app, the users and (for the preview) Microsoft 365; ``apply`` starts the job and waits for it."""
    for name in ("timeout", "poll_interval", "verify_timeout"):
        if p[name] < 1:
            raise v.ValidationError("%s must be at least 1 second." % name, field=name)
    paths = _pp_sync.job_paths(p["job_paths"])
    if p["mode"] == "wait" and not p["wait"]:
        raise v.ValidationError("mode wait waits for Microsoft 365 and makes no job call, so wait: false leaves it nothing to do; use "
                                "mode start to only start the job.", field="wait")
    if m.check_mode:
        need_graph(m, "Check mode (the preview)")
    if p["verify_upns"]:
        need_graph(m, "verify_upns")
    if p["mode"] == "wait" and not m.check_mode:
        need_graph(m, "mode wait")
    client = m.pp
    app = _pp_sync.resolve_app(p["app"], client.applications())
    users = client.users()
    users_by_id = dict((u["ID"], u) for u in users)
    subset = None
    if p["users"]:
        subset = [u["ID"] for u in _pp_roles.resolve_users(p["users"], users, field="users")]
    scope = None
    if m.check_mode or p["verify_upns"] or p["mode"] == "wait":
        scope = read_scope(client, app, p["scope_roles"])
    if m.check_mode:
        preview = preview_result(m, client, scope, users_by_id, subset)
        return dict(changed=_pp_sync.preview_changed(preview), preview=preview, job=None), None
    if p["mode"] == "wait":
        # No job call: nothing is written, so the plan is the whole task (a re-run that finds everything shown reports no change).
        return wait_for_m365(m, client, app, subset, scope, users_by_id), None
    return dict(changed=True, job=None), lambda: run_job(m, client, app, subset, scope, users_by_id, paths)


def read_scope(client, app, names):
    """The user ids in the app's provisioning scope: the user members of its scope roles (by default the app's own role)."""
    roles = client.roles()
    scope_roles = [_pp_roles.resolve_role(name, roles, field="scope_roles") for name in (names or [app["Name"]])]
    return _pp_sync.scope_user_ids([client.role_members(role["ID"]) for role in scope_roles])


def job_call(client, paths, key, body):
    return client.call(key, body, path=paths[key], write=key == "start")


def run_job(m, client, app, subset, scope, users_by_id, paths):
    """Start the job, wait for it and, with verify_upns, read the users back from Microsoft 365. With mode auto, a tenant
    without the job endpoint is waited for instead."""
    p = m.params
    body = {"AppKey": app["ID"]}
    if subset is not None:
        body["Users"] = subset
    try:
        started = job_call(client, paths, "start", body) or {}
    except PracticeProtectError as exc:
        return fall_back(m, client, app, subset, scope, users_by_id, exc)
    job_id = started.get("JobId")
    job = {"JobId": job_id, "AppKey": app["ID"], "State": "Queued"}
    if not p["wait"]:
        return dict(changed=True, job=job, mode="start")
    try:
        polled = wait_until(lambda: job_call(client, paths, "status", {"JobId": job_id}) or job, p["timeout"],
                            done=lambda j: j.get("State") in _pp_sync.FINAL_JOB_STATES, delay=p["poll_interval"], factor=1)
    except PracticeProtectError as exc:
        return fall_back(m, client, app, subset, scope, users_by_id, exc, started=job_id)
    job = polled.value
    if not polled.done:
        m.module.fail_json(msg="The outbound provisioning job %s for %s did not finish within %d s (state %s). It keeps running in "
                               "Practice Protect: see Settings > Users > Outbound Provisioning, or run again with a longer timeout." % (
                                   job_id, app["Name"], p["timeout"], job.get("State")),
                           job=job, changed=True, **m.call_stats())
    result = dict(changed=_pp_sync.job_changed(job), job=job, summary=job.get("Summary") or {}, failures=job.get("Failures") or [], mode="start")
    problem = _pp_sync.job_problem(app["Name"], job)
    if problem and (job.get("State") == "Failed" or p["fail_on_user_errors"]):
        m.module.fail_json(msg=problem, **dict(result, **m.call_stats()))
    if problem:
        m.module.warn(problem)
    if p["verify_upns"]:
        result["verified"] = verify(m, client, scope, users_by_id, subset)
    return result


def fall_back(m, client, app, subset, scope, users_by_id, error, started=None):
    """Mode auto on a tenant that answered that a job endpoint does not exist: warn, then wait for Microsoft 365. Any other
    failure (and any failure with mode start) stands."""
    if m.params["mode"] != "auto" or not _pp_sync.no_job_api(error):
        raise error
    what = "the job %s started, but reading its status" % started if started else "starting the outbound provisioning job"
    m.module.warn("Practice Protect has no job endpoint at %s (%s), so %s is not possible on this tenant. Waiting for Microsoft 365 to "
                  "show the users instead: the role change that put them in scope triggers the sync, and the scheduled sync runs "
                  "anyway. Set job_paths to the tenant's endpoints, or mode: wait to skip the attempt." % (
                      error.path, error.message.rstrip("."), what))
    absent = m.absent("graph")
    if absent:
        raise v.ValidationError("This Practice Protect tenant has no job endpoint at %s, and waiting for Microsoft 365 instead needs its "
                                "connection: set %s (or the M365_* environment variables), or job_paths to the tenant's endpoints." % (
                                    error.path, ", ".join(absent)), field="mode")
    if not m.params["wait"]:
        return dict(changed=False, job=None, mode="wait")
    if scope is None:
        scope = read_scope(client, app, m.params["scope_roles"])
    return wait_for_m365(m, client, app, subset, scope, users_by_id)


def wait_for_m365(m, client, app, subset, scope, users_by_id):
    """Mode wait: read Microsoft 365 until it shows the users as the sync leaves them, keeping the progress; fail at the timeout
    naming who is still missing. Changed when anything was still missing at the first read."""
    p = m.params
    wanted_ids = [uid for uid in (subset if subset is not None else scope) if uid in users_by_id]
    values = proxy_values(client, [uid for uid in wanted_ids if uid in scope])
    expected = _pp_sync.wait_expectations(wanted_ids, scope, users_by_id, values)
    skus = dict((s["skuId"].lower(), s) for s in m.graph.list("subscribedSkus")) if expected else {}
    upns = sorted(expected, key=str.lower)
    started = time.monotonic()
    progress = []

    def check():
        graph_users = read_users(m.graph, upns, _pp_sync.VERIFY_SELECT.split(",")).values() if upns else []
        state = _pp_sync.wait_state(expected, graph_users, skus)
        missing = sorted(set(entry.split(" (", 1)[0] for entry in state[1]), key=str.lower)
        if not progress or progress[-1]["missing"] != missing:
            progress.append({"seconds": int(time.monotonic() - started), "shown": len(upns) - len(missing), "of": len(upns), "missing": missing})
        return state

    seen = wait_until(check, p["timeout"], done=lambda state: not state[1], delay=min(p["poll_interval"], 5), max_delay=max(p["poll_interval"], 15))
    results, pending = seen.value
    result = dict(changed=bool(progress and progress[0]["missing"]), job=None, mode="wait", verified=results, progress=progress)
    if not seen.done:
        m.module.fail_json(msg="After %d s Microsoft 365 still does not show %d of %d users as the %s sync leaves them: %s. Practice Protect "
                               "syncs after a role change and on its schedule; check Settings > Users > Outbound Provisioning (the job "
                               "reports) and run again with a longer timeout." % (p["timeout"], len(pending), len(upns), app["Name"],
                                                                                  "; ".join(pending)),
                           **dict(result, **m.call_stats()))
    return result


def proxy_values(client, user_ids):
    column = next((c["Name"] for c in client.columns()
                   if (c.get("Name") or "").lower() == "proxyaddresses" or (c.get("Title") or "").lower() == "proxyaddresses"), None)
    if column is None:
        return {}
    return dict((user_id, client.column_values(user_id).get(column)) for user_id in user_ids)


def preview_result(m, client, scope, users_by_id, subset):
    considered = [uid for uid in scope if subset is None or uid in subset]
    values = proxy_values(client, [uid for uid in considered if uid in users_by_id])
    graph_users = m.graph.list("users", params={"$select": _pp_sync.GRAPH_SELECT, "$top": "999"})
    return _pp_sync.preview(scope, users_by_id, values, graph_users, set(subset) if subset is not None else None)


def verify(m, client, scope, users_by_id, subset):
    wanted_ids = [uid for uid in (subset if subset is not None else scope) if uid in users_by_id
                  and (users_by_id[uid].get("SourceDsType") or "CDS") == "CDS"]
    values = proxy_values(client, wanted_ids)
    from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_users import parse_proxy_addresses
    expected = dict((users_by_id[uid]["Username"], parse_proxy_addresses(values.get(uid))) for uid in wanted_ids)
    skus = dict((s["skuId"].lower(), s) for s in m.graph.list("subscribedSkus"))
    upns = sorted(expected, key=str.lower)

    def check():
        graph_users = read_users(m.graph, upns, _pp_sync.VERIFY_SELECT.split(",")).values()
        return _pp_sync.verify_state(expected, graph_users, skus)

    seen = wait_until(check, m.params["verify_timeout"], done=lambda state: not state[1])
    results, pending = seen.value
    if not seen.done:
        m.module.fail_json(msg="After %d s Microsoft 365 still does not show: %s. The job finished; check the sync report and the "
                               "users in the Microsoft 365 admin centre." % (m.params["verify_timeout"], "; ".join(pending)),
                           verified=results, changed=True, **m.call_stats())
    return results


if __name__ == "__main__":
    main()
