# -*- coding: utf-8 -*-
"""The fault suite (issue 9, part 1): real ansible-playbook runs of the modules, the roles and playbooks/onboard.yml and
offboard.yml against the sandbox's fault knobs, one test per fault, each ending in a converged tenant with nothing
duplicated and nothing lost, as the sandbox's state, its Practice Protect state, its request log and its sent mail show.

Each test names its fault (``FAULT_*``) and records its row (fault, runs, converged, duplicates, lost) with
tests/integration/fault_table.py, which prints the table at the end of the pytest run.

Times are scaled: Retry-After by throttle.time_scale, replication lag and Exchange's delays in seconds rather than a
minute. The SIGKILL tests pick the point of the kill from the request log (after K writes), K drawn from a seeded
generator: the seed is printed, and FAULT_SUITE_SEED replays a run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid

from tests.bench import inventory as bench_inventory
from tests.integration import fault_table
from tests.integration.plugins.modules.pp_support import pp_state
from tests.integration.support import ROOT, play, release_when
from tests.sandbox.client import Sandbox
from tests.tools import processes

DOMAIN = "northwindacct.com"
ROLE = bench_inventory.ROLE
LICENCE = bench_inventory.LICENCE
SENDER = "it.admin@northwindacct.onmicrosoft.com"  # a licensed mailbox of the seed: the activation mail's sender
FORWARD_TO = "sarah.jones@" + DOMAIN
SEED = int(os.environ.get("FAULT_SUITE_SEED") or random.SystemRandom().randint(1, 10 ** 6))
OUTPUT = os.path.join(ROOT, "tests", "output", "integration")
SMALL = 2  # joiners in the runs of one fault
FORKS = "25"  # the per-host tasks of a 100-person run are Ansible's cost: more forks, less wall time
TIME_SCALE = 0.05  # Retry-After 30 s -> 2 s
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
LICENCE_PATH = re.compile(r"/users/([^/]+)/assignLicense$", re.I)

FAULT_429 = "429 storm (Retry-After up to 30 s, scaled)"
FAULT_5XX = "bursts of 500/503/504"
FAULT_RESET = "connection resets (before and after the service acted)"
FAULT_TOKEN = "tokens expiring mid-run"
FAULT_LAG = "replication lag (users, role assignments, mailboxes)"
FAULT_CONVERSION = "slow shared-mailbox conversion"
FAULT_KILL_ONBOARD = "SIGKILL during a 100-person onboarding"
FAULT_KILL_OFFBOARD = "SIGKILL during a 20-person offboarding"

print("fault suite seed: %d (FAULT_SUITE_SEED=%d replays it)" % (SEED, SEED))


# -- inventories -----------------------------------------------------------------------------------------------------

def playbook(name):
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return handle.read()


def joiners(tmp_path, people, mail_every=0):
    """The bench's hosts-as-people inventory (tests/bench/inventory.py) of ``people`` entra_source joiners; every
    ``mail_every``-th of them (the first included) gets an activation mail. Returns (path, persons)."""
    inv = bench_inventory.build(people, leavers=0)
    hosts = inv["all"]["children"]["people"]["children"]["intake"]["hosts"]
    if mail_every:
        for index, name in enumerate(sorted(hosts)):
            if index % mail_every == 0:
                person = hosts[name]["person"]
                person["alternate_email"] = person["upn"].split("@")[0] + "@example.org"
                hosts[name].update({"onboard_password_delivery": "email", "onboard_mail_sender": SENDER})
    path = tmp_path / "joiners.yml"
    path.write_text(json.dumps(inv, indent=1))
    return str(path), [hosts[name]["person"] for name in sorted(hosts)], [
        hosts[name]["person"]["upn"] for name in sorted(hosts) if hosts[name].get("onboard_password_delivery") == "email"]


def leavers(sandbox, tmp_path, count):
    """``count`` licensed users with a mailbox and the Practice Protect role, and an inventory offboarding them with
    forwarding to a colleague. Seeded directly (setup, not under test). Returns (path, upns)."""
    upns = ["leaver%02d@%s" % (i, DOMAIN) for i in range(1, count + 1)]
    sandbox.seed([{"userPrincipalName": upn, "displayName": "Leaver %s" % upn[6:8], "usageLocation": "AU", "licenses": [LICENCE]}
                  for upn in upns])
    sandbox.control("POST", "pp/seed", json={"users": [{"Name": upn, "Roles": [ROLE]} for upn in upns]})
    inv = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                            "offboard_deployment": "entra_source", "offboard_sync": False, "offboard_shared_timeout": 120},
                   "children": {"leavers": {"hosts": dict((upn.split("@")[0], {"person": {"upn": upn, "forward_to": FORWARD_TO}})
                                                          for upn in upns)}}}}
    path = tmp_path / "leavers.yml"
    path.write_text(json.dumps(inv, indent=1))
    return str(path), upns


def add_seats(sandbox, people):
    sandbox.control("PATCH", "skus", json={LICENCE: people + 30})


# -- runs --------------------------------------------------------------------------------------------------------------

def last_seq(sandbox):
    entries = sandbox.log()
    return entries[-1]["seq"] if entries else 0


def onboard(run_playbook, path, verify=False):
    """playbooks/onboard.yml on the intake. The tests check the tenant themselves, so the role's own read-back
    (onboard_verify) is left out unless asked for: four module runs less per test."""
    return run_playbook(playbook("onboard.yml"), inventory=path, extra_vars={"onboard_hosts": "intake", "onboard_verify": verify},
                        env={"ANSIBLE_FORKS": FORKS})


def offboard(run_playbook, path):
    return run_playbook(playbook("offboard.yml"), inventory=path, env={"ANSIBLE_FORKS": FORKS})


def is_write(entry):
    return entry["write"] and entry["service"] != "login"


KILLED_RUN_VARIABLE = "PPM365_KILLED_RUN"


def settled_seq(sandbox, quiet=1.0, limit=15):
    """The last sequence number of the sandbox's log once it has not moved for ``quiet`` seconds (at most ``limit``
    seconds of waiting): requests sent before a kill have arrived by then."""
    deadline = time.monotonic() + limit
    seq, since = last_seq(sandbox), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = last_seq(sandbox)
        if now != seq:
            seq, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return seq


def killed_run(sandbox, request, tmp_path, name, path, after_writes, extra_vars=None):
    """ansible-playbook ``name``, killed with SIGKILL once the sandbox has logged ``after_writes`` writes of this run,
    together with every process it started (tests/tools/processes.py: ansible-core's workers live in sessions of their
    own, which a kill of the process group misses). Asserts that none of the run's processes survives (found by a
    marker in their environment, wherever they were reparented) and that no write reaches the sandbox once the
    requests already under way have landed. Returns (returncode, writes seen when the kill was sent)."""
    start = last_seq(sandbox)
    marker = uuid.uuid4().hex
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), os.path.join(ROOT, "playbooks", name), "-i", path]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", "%s=%s" % (key, value)]
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update({"ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_HOST_KEY_CHECKING": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_FORKS": FORKS, "M365_TOKEN_CACHE_PATH": str(tmp_path / "token-cache.json"),
                "PP_TOKEN_CACHE_PATH": str(tmp_path / "pp-token-cache.json"), KILLED_RUN_VARIABLE: marker})
    os.makedirs(OUTPUT, exist_ok=True)
    log_path = os.path.join(OUTPUT, "%s-killed.log" % re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name))
    watcher = Sandbox(sandbox.state_dir, sandbox.env)
    seen = {"writes": 0}
    try:
        with open(log_path, "w") as out:
            process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
            mark = start
            while process.poll() is None:
                entries = watcher.log(mark)
                if entries:
                    mark = entries[-1]["seq"]
                    seen["writes"] += sum(1 for entry in entries if is_write(entry))
                if seen["writes"] >= after_writes:
                    killed, survivors = processes.kill_tree(process.pid)
                    seen["killed"] = len(killed)
                    assert survivors == [], "still alive after SIGKILL: %s" % [processes.describe(p) for p in survivors]
                    break
                time.sleep(0.05)
            returncode = process.wait(600)
    finally:
        watcher.http.close()
    escaped = [processes.describe(survivor) for survivor in processes.marked(KILLED_RUN_VARIABLE, marker)]
    for survivor in processes.marked(KILLED_RUN_VARIABLE, marker):
        processes.kill_tree(survivor.pid)
    assert escaped == [], "processes of the killed run outside its tree: %s" % escaped
    landed = settled_seq(sandbox)
    time.sleep(2)
    late = [entry for entry in sandbox.log(landed) if is_write(entry)]
    assert late == [], "writes after the killed run was gone: %s" % late
    with open(log_path, "a") as out:
        out.write("\n[killed with SIGKILL after %d writes of this run, %d processes; rc %s]\n"
                  % (seen["writes"], seen.get("killed", 0), returncode))
    return returncode, seen["writes"]


# -- what the tenant holds -----------------------------------------------------------------------------------------------

def count_by(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


class Ledger:
    """Duplicates and losses found in the final state, by kind, for the row and the assertion message."""

    def __init__(self):
        self.duplicates = []
        self.lost = []
        self.notes = {}

    def duplicate(self, kind, who, count):
        self.duplicates.append("%s: %s x%d" % (kind, who, count))

    def missing(self, kind, who):
        self.lost.append("%s: %s" % (kind, who))

    def message(self):
        return "duplicated: %s\nlost: %s" % (self.duplicates or "none", self.lost or "none")


def check_joiners(sandbox, persons, mailed=(), ledger=None, mail_lost_counts=False):
    """Every joiner once in Microsoft 365 (licence, aliases), once in Practice Protect (in the role, invited once);
    every activation mail sent at most once (and, with ``mail_lost_counts``, exactly once)."""
    ledger = ledger or Ledger()
    state, pp = sandbox.state(), pp_state(sandbox)
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in state["skus"])
    active = [u for u in state["users"] if u.get("_state", "active") == "active"]
    graph_counts = count_by((u["userPrincipalName"] or "").lower() for u in active)
    by_upn = dict(((u["userPrincipalName"] or "").lower(), u) for u in active)
    pp_counts = count_by(u["Name"].lower() for u in pp["users"])
    invites = count_by(m["user"].lower() for m in pp.get("outbox") or [] if m.get("kind") == "email")
    members = set()
    for role in pp["roles"]:
        if role["Name"] == ROLE:
            members = set(m.lower() for m in role.get("Members") or [])
    subjects = [m.get("subject") or "" for m in sandbox.mail()]
    for person in persons:
        upn = person["upn"].lower()
        for kind, counts in (("Microsoft 365 user", graph_counts), ("Practice Protect user", pp_counts)):
            if counts.get(upn, 0) > 1:
                ledger.duplicate(kind, upn, counts[upn])
            elif not counts.get(upn):
                ledger.missing(kind, upn)
        if invites.get(upn, 0) > 1:
            ledger.duplicate("invitation in the Practice Protect outbox", upn, invites[upn])
        elif not invites.get(upn):
            ledger.missing("invitation in the Practice Protect outbox", upn)
        user = by_upn.get(upn)
        if user is not None:
            if LICENCE not in [skus.get(lic["skuId"]) for lic in user.get("assignedLicenses") or []]:
                ledger.missing("licence", upn)
            addresses = set(a.lower() for a in user.get("proxyAddresses") or [])
            for alias in person["aliases"]:
                if "smtp:" + alias.lower() not in addresses:
                    ledger.missing("alias", alias)
        if upn not in members:
            ledger.missing("Practice Protect role %s" % ROLE, upn)
    for upn in mailed:
        sent = sum(1 for subject in subjects if subject.lower().endswith(": " + upn.lower()))
        if sent > 1:
            ledger.duplicate("activation mail", upn, sent)
        elif not sent:
            ledger.notes.setdefault("activation_mail_not_sent", []).append(upn)
            if mail_lost_counts:
                ledger.missing("activation mail", upn)
    return ledger


def parse_time(entry):
    return datetime.datetime.fromisoformat(entry["time"])


def licence_before_shared(entries, user_id, upn):
    """Seqs of successful licence calls for a leaver made before any Get-Mailbox showed the mailbox shared."""
    keys = {user_id.lower(), upn.lower()}
    shared_at, early = None, []
    for entry in entries:
        if entry["service"] == "exchange" and entry.get("cmdlet") == "Get-Mailbox" and entry["status"] == 200:
            if (entry.get("recipient_types") or {}).get(user_id.lower()) == "SharedMailbox" and shared_at is None:
                shared_at = entry["seq"]
        elif entry["service"] == "graph" and entry["method"] == "POST" and (entry["status"] or 0) < 300:
            match = LICENCE_PATH.search(entry["path"])
            if match and match.group(1).lower() in keys and shared_at is None:
                early.append(entry["seq"])
    return early


def check_leavers(sandbox, upns, entries, ledger=None):
    """Every leaver blocked, without licences, out of the Practice Protect role, with a shared mailbox that forwards to the
    colleague and keeps a copy; no licence removed before Exchange showed the mailbox shared (from the request log)."""
    ledger = ledger or Ledger()
    state, pp = sandbox.state(), pp_state(sandbox)
    active = [u for u in state["users"] if u.get("_state", "active") == "active"]
    by_upn = dict(((u["userPrincipalName"] or "").lower(), u) for u in active)
    counts = count_by((u["userPrincipalName"] or "").lower() for u in active)
    boxes = dict((m["user_id"], m) for m in state["mailboxes"])
    members = set()
    for role in pp["roles"]:
        if role["Name"] == ROLE:
            members = set(m.lower() for m in role.get("Members") or [])
    for upn in upns:
        user = by_upn.get(upn)
        if counts.get(upn, 0) > 1:
            ledger.duplicate("Microsoft 365 user", upn, counts[upn])
        if user is None:
            ledger.missing("Microsoft 365 user (with its mailbox)", upn)
            continue
        box = boxes.get(user["id"]) or {}
        if box.get("RecipientTypeDetails") != "SharedMailbox":
            ledger.missing("shared mailbox", "%s (%s)" % (upn, box.get("RecipientTypeDetails") or box.get("state")))
        if (box.get("ForwardingSmtpAddress") or "").lower().replace("smtp:", "") != FORWARD_TO or not box.get("DeliverToMailboxAndForward"):
            ledger.missing("forwarding to %s keeping a copy" % FORWARD_TO, "%s (%s, %s)" % (
                upn, box.get("ForwardingSmtpAddress"), box.get("DeliverToMailboxAndForward")))
        early = licence_before_shared(entries, user["id"], upn)
        if early:
            ledger.missing("mail (licence removed before the mailbox showed shared)", "%s at %s" % (upn, early))
        if user.get("accountEnabled"):
            ledger.notes.setdefault("still_enabled", []).append(upn)
        if user.get("assignedLicenses"):
            ledger.notes.setdefault("still_licensed", []).append(upn)
        if upn in members:
            ledger.notes.setdefault("still_in_role", []).append(upn)
    return ledger


def finish(fault, runs, converged, ledger, **details):
    """Record the fault's row, then fail with everything found if the tenant did not converge cleanly."""
    details.update(seed=SEED, duplicated_items=ledger.duplicates, lost_items=ledger.lost, **ledger.notes)
    fault_table.record(fault, runs, converged, len(ledger.duplicates), len(ledger.lost), **details)
    problems = []
    if ledger.duplicates or ledger.lost:
        problems.append(ledger.message())
    for key in ("still_enabled", "still_licensed", "still_in_role"):
        if ledger.notes.get(key):
            problems.append("%s: %s" % (key, ledger.notes[key]))
    if converged < runs:
        problems.append("%d of %d runs did not converge" % (runs - converged, runs))
    assert not problems, "%s (seed %d)\n%s" % (fault, SEED, "\n".join(problems))


# -- 429 storms --------------------------------------------------------------------------------------------------------

def test_429_storm_with_retry_after_up_to_30_s(sandbox, run_playbook, tmp_path):
    path, persons, _ = joiners(tmp_path, SMALL)
    # Each service's first call is throttled for certain (the random rules below share one seed, so one unlucky seed
    # would otherwise spare every service at once); the random rules then throttle some of the calls after it.
    rules = [
        {"service": "graph", "path": r"^/v1\.0/", "kind": "status", "status": 429, "retry_after": 30, "count": 1},
        {"service": "exchange", "path": "InvokeCommand", "kind": "status", "status": 429, "retry_after": 10, "count": 1},
        {"service": "pp", "path": r"^/(?!oauth2/)", "kind": "status", "status": 429, "retry_after": 20, "count": 1},
        {"service": "graph", "path": r"^/v1\.0/", "kind": "status", "status": 429, "retry_after": 30, "rate": 0.5, "count": 6, "seed": SEED},
        {"service": "exchange", "path": "InvokeCommand", "kind": "status", "status": 429, "retry_after": 10, "rate": 0.5, "count": 4,
         "seed": SEED},
        {"service": "pp", "path": r"^/(?!oauth2/)", "kind": "status", "status": 429, "retry_after": 20, "rate": 0.5, "count": 4,
         "seed": SEED},
    ]
    sandbox.configure(throttle={"time_scale": TIME_SCALE}, faults=rules)
    start = last_seq(sandbox)
    run = onboard(run_playbook, path)
    entries = sandbox.log(start)
    storm = [e for e in entries if e["status"] == 429]
    waits = dict((rule["service"], int(-(-rule["retry_after"] * TIME_SCALE // 1))) for rule in rules)  # as the sandbox scales
    hurried = []
    for entry in storm:
        later = [e for e in entries if e["seq"] > entry["seq"] and e["service"] == entry["service"] and e["method"] == entry["method"]
                 and e["path"] == entry["path"]]
        if later and (parse_time(later[0]) - parse_time(entry)).total_seconds() < waits[entry["service"]] - 0.05:
            hurried.append((entry["service"], entry["path"], entry["seq"], later[0]["seq"]))
    ledger = check_joiners(sandbox, persons)
    finish(FAULT_429, 1, int(run.rc == 0), ledger, throttled=len(storm),
           throttled_by_service=count_by(e["service"] for e in storm), retried_too_early=hurried)
    assert set(e["service"] for e in storm) == {"graph", "exchange", "pp"}, "the storm must reach every service"
    assert not hurried, "sent again before the scaled Retry-After had passed: %s" % hurried
    assert run.rc == 0, run.stdout[-3000:]


# -- bursts of 500/503/504 -----------------------------------------------------------------------------------------------

def test_bursts_of_500_503_504_on_reads_and_writes(sandbox, run_playbook, tmp_path):
    path, persons, _ = joiners(tmp_path, SMALL)
    # Rules are tried in order and each counts the requests it matched, so rules of count 1 one after the other hit the
    # first, second and third such request: 500 on reads (Graph GETs; the first Exchange and Practice Protect calls of a
    # run are reads), 503 and 504 on reads and writes of every service.

    def burst(service, path, statuses, method=None):
        return [dict({"service": service, "path": path, "kind": "status", "status": status, "count": 1}, **({"method": method} if method else {}))
                for status in statuses]

    rules = (burst("graph", r"^/v1\.0/", (500, 503, 504), "GET") + burst("graph", r"^/v1\.0/", (503, 504), "POST")
             + burst("exchange", "InvokeCommand", (500,))
             + [{"service": "exchange", "path": "InvokeCommand", "kind": "status", "status": status, "rate": 0.5, "count": 3, "seed": SEED + status}
                for status in (503, 504)]
             + burst("pp", r"^/(?!oauth2/)", (500, 503, 504)) + burst("pp", r"/(InviteUsers|UpdateRole)$", (503, 504)))
    sandbox.configure(faults=rules)
    start = last_seq(sandbox)
    run = onboard(run_playbook, path)
    entries = sandbox.log(start)
    burst = [e for e in entries if e.get("fault") == "status"]
    ledger = check_joiners(sandbox, persons)
    by_kind = count_by("%s %s %s" % (e["service"], "write" if e["write"] else "read", e["status"]) for e in burst)
    finish(FAULT_5XX, 1, int(run.rc == 0), ledger, injected=len(burst), injected_by_kind=by_kind,
           failed_tasks=[t["task"] for t in run.tasks if t.get("status") == "failed"])
    assert {e["service"] for e in burst} >= {"graph", "exchange", "pp"} and {e["status"] for e in burst} == {500, 503, 504}, by_kind
    assert any(e["write"] and e["status"] in (503, 504) for e in burst), by_kind
    assert run.rc == 0, run.stdout[-3000:]


# -- connection resets -----------------------------------------------------------------------------------------------------

def test_connection_resets_before_and_after_the_service_acted(sandbox, run_playbook, tmp_path):
    path, persons, _ = joiners(tmp_path, SMALL)
    rules = [
        # after: the service did the work, then the connection dropped (the client cannot know which)
        {"service": "graph", "method": "POST", "path": r"/\$batch$", "kind": "reset_after", "count": 1},
        {"service": "pp", "path": r"/UserMgmt/InviteUsers$", "kind": "reset_after", "count": 1},
        {"service": "pp", "path": r"/Roles/UpdateRole$", "kind": "reset_after", "count": 1},
        {"service": "exchange", "path": "InvokeCommand", "kind": "reset_after", "rate": 0.5, "count": 4, "seed": SEED},
        # before: dropped before the service saw it (the first Graph read for certain, whatever the seed; then at random)
        {"service": "graph", "method": "GET", "path": r"^/v1\.0/", "kind": "reset_before", "count": 1},
        {"service": "graph", "method": "GET", "path": r"^/v1\.0/", "kind": "reset_before", "rate": 0.5, "count": 4, "seed": SEED},
        {"service": "pp", "path": r"^/(?!oauth2/)", "kind": "reset_before", "rate": 0.3, "count": 4, "seed": SEED},
        {"service": "exchange", "path": "InvokeCommand", "kind": "reset_before", "rate": 0.3, "count": 3, "seed": SEED},
    ]
    sandbox.configure(faults=rules)
    start = last_seq(sandbox)
    run = onboard(run_playbook, path)
    entries = sandbox.log(start)
    resets = [e for e in entries if e.get("fault") in ("reset_before", "reset_after")]
    ledger = check_joiners(sandbox, persons)
    finish(FAULT_RESET, 1, int(run.rc == 0), ledger, resets=count_by("%s %s %s" % (e["fault"], e["service"], e["path"]) for e in resets))
    assert {e["fault"] for e in resets} == {"reset_before", "reset_after"}
    assert run.rc == 0, run.stdout[-3000:]


# -- tokens that expire mid-run -------------------------------------------------------------------------------------------

def test_tokens_refused_mid_run_before_their_expires_in(sandbox, run_playbook, tmp_path):
    path, persons, mailed = joiners(tmp_path, 4, mail_every=2)
    # Tokens say 3599 s but are honoured for 0.8 s: the cached token of the previous task (and, within a long module run, of
    # the previous call) is refused with the services' expired-token answer.
    # A Practice Protect module run is shorter than that: one 429 of 1 s on the invitations makes its token outlive
    # its validity while the client waits, as a long throttle does in production. So can the Exchange calls of the
    # alias step, which run concurrently and may all finish within 0.8 s of their token: one 429 there too.
    sandbox.configure(token_valid_s=0.8, latency_ms=100, faults=[
        {"service": "pp", "path": r"/UserMgmt/InviteUsers$", "kind": "status", "status": 429, "retry_after": 1, "count": 1},
        {"service": "exchange", "path": r"/InvokeCommand$", "kind": "status", "status": 429, "retry_after": 1, "count": 1}])
    start = last_seq(sandbox)
    run = onboard(run_playbook, path)
    entries = sandbox.log(start)
    refused = [e for e in entries if e["status"] == 401]
    ledger = check_joiners(sandbox, persons, mailed, mail_lost_counts=True)
    finish(FAULT_TOKEN, 1, int(run.rc == 0), ledger, refused_by_service=count_by(e["service"] for e in refused),
           tokens_issued=sum(1 for e in entries if e["service"] == "login" or e["path"].startswith("/oauth2/token")))
    assert {"graph", "exchange", "pp"} <= {e["service"] for e in refused}, count_by(e["service"] for e in refused)
    assert run.rc == 0, run.stdout[-3000:]


# -- replication lag ----------------------------------------------------------------------------------------------------

def test_replication_lag_on_users_role_assignments_and_mailboxes(sandbox, run_playbook, tmp_path):
    path, persons, _ = joiners(tmp_path, SMALL)
    # 60 s of lag, scaled: reads lag writes by 2 s (users, licences, role assignments); mailboxes appear 2 s after the licence.
    sandbox.configure(replication_lag_s=2, mailbox_provisioning_delay_s=2)
    start = last_seq(sandbox)
    run = onboard(run_playbook, path)
    account = {"practiceprotect.m365.service_account": {"roles": {"add": ["Exchange Administrator", "Global Reader"]}, "replication_timeout": 60}}
    # twice in a row, under 4 s of lag: the second module run starts well within it, so it reads the assignment list
    # from before the first run's assignments and asks for them again
    sandbox.configure(replication_lag_s=4)
    twice = run_playbook(play(dict(account, name="Service account with two roles"), dict(account, name="The same again, at once")))
    entries = sandbox.log(start)
    ledger = check_joiners(sandbox, persons)
    state = sandbox.state()
    accounts = [u for u in state["users"] if u.get("_state", "active") == "active" and (u["userPrincipalName"] or "").startswith("practiceprotect")]
    if len(accounts) > 1:
        ledger.duplicate("service account", "practiceprotect@", len(accounts))
    elif not accounts:
        ledger.missing("service account", "practiceprotect@")
    else:
        held = [a["roleDefinitionId"] for a in state["role_assignments"] if a["principalId"] == accounts[0]["id"]]
        for role_id in (EXCHANGE_ADMIN, GLOBAL_READER):
            if held.count(role_id) > 1:
                ledger.duplicate("role assignment", role_id, held.count(role_id))
            elif not held.count(role_id):
                ledger.missing("role assignment", role_id)
    runs = [run, twice]
    finish(FAULT_LAG, len(runs), sum(1 for r in runs if r.rc == 0), ledger,
           not_found_while_lagging=sum(1 for e in entries if e["status"] == 404),
           conflicts=sum(1 for e in entries if e["status"] == 400 and "roleAssignments" in e["path"]),
           failed_tasks=[t["task"] for r in runs for t in r.tasks if t.get("status") == "failed"])
    for result in runs:
        assert result.rc == 0, result.stdout[-3000:]


# -- slow shared-mailbox conversion -----------------------------------------------------------------------------------------

def test_slow_shared_mailbox_conversion(sandbox, run_playbook, tmp_path):
    path, upns = leavers(sandbox, tmp_path, 3)
    ids = set(u["id"].lower() for u in sandbox.state()["users"] if (u["userPrincipalName"] or "").lower() in upns)

    def waiting(entries):
        """Exchange was asked for a mailbox after a conversion was requested (held back, so still not shared)."""
        asked = False
        for entry in entries:
            if entry.get("cmdlet") == "Set-Mailbox" and "Type" in entry["body_keys"]:
                asked = True
            elif asked and entry.get("cmdlet") == "Get-Mailbox" and entry["status"] == 200:
                return True
        return False

    # Every conversion is held back until a module has been seen waiting for one; then each takes 2 s more.
    sandbox.configure(shared_conversion_delay_s=3600)
    start = last_seq(sandbox)
    with release_when(sandbox, waiting, shared_conversion_delay_s=2):
        run = offboard(run_playbook, path)
    entries = sandbox.log(start)
    ledger = check_leavers(sandbox, upns, entries)
    polls = sum(1 for e in entries if e.get("cmdlet") == "Get-Mailbox" and any(
        v != "SharedMailbox" for k, v in (e.get("recipient_types") or {}).items() if k in ids))
    finish(FAULT_CONVERSION, 1, int(run.rc == 0), ledger, polls_not_yet_shared=polls)
    assert polls >= 1  # the conversion really was slow: the run had to wait for it
    assert run.rc == 0, run.stdout[-3000:]


# -- SIGKILL at a random point, then a re-run -------------------------------------------------------------------------------

def test_sigkill_during_a_100_person_onboarding_then_rerun(sandbox, run_playbook, tmp_path, request):
    people = 100
    rng = random.Random("onboard-%d" % SEED)
    after = rng.randint(1, 3 * people)  # a clean run writes about 4-5 times per person: the kill always lands inside it
    print("fault suite seed %d: killing the onboarding after %d writes" % (SEED, after))
    add_seats(sandbox, people)
    path, persons, mailed = joiners(tmp_path, people, mail_every=10)
    sandbox.configure(latency_ms=0, mailbox_provisioning_delay_s=0)
    start = last_seq(sandbox)
    returncode, writes = killed_run(sandbox, request, tmp_path, "onboard.yml", path, after, {"onboard_hosts": "intake"})
    assert returncode == -signal.SIGKILL, "the run ended (rc %s) before it could be killed after %d writes" % (returncode, after)
    rerun = onboard(run_playbook, path)
    entries = sandbox.log(start)
    ledger = check_joiners(sandbox, persons, mailed)
    finish(FAULT_KILL_ONBOARD, 1, int(rerun.rc == 0), ledger, playbook_runs=2, kill_after_writes=after, writes_before_kill=writes,
           writes_total=sum(1 for e in entries if is_write(e)))
    assert rerun.rc == 0, rerun.stdout[-3000:]


def test_sigkill_during_a_20_person_offboarding_then_rerun(sandbox, run_playbook, tmp_path, request):
    rng = random.Random("offboard-%d" % SEED)
    after = rng.randint(1, 60)  # a clean run writes about 5 times per leaver
    print("fault suite seed %d: killing the offboarding after %d writes" % (SEED, after))
    path, upns = leavers(sandbox, tmp_path, 20)
    sandbox.configure(shared_conversion_delay_s=0.5)
    start = last_seq(sandbox)
    returncode, writes = killed_run(sandbox, request, tmp_path, "offboard.yml", path, after)
    assert returncode == -signal.SIGKILL, "the run ended (rc %s) before it could be killed after %d writes" % (returncode, after)
    rerun = offboard(run_playbook, path)
    entries = sandbox.log(start)
    ledger = check_leavers(sandbox, upns, entries)
    finish(FAULT_KILL_OFFBOARD, 1, int(rerun.rc == 0), ledger, playbook_runs=2, kill_after_writes=after, writes_before_kill=writes,
           writes_total=sum(1 for e in entries if is_write(e)))
    assert rerun.rc == 0, rerun.stdout[-3000:]
