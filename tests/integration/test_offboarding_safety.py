# -*- coding: utf-8 -*-
"""Offboarding safety (issue 9, part 5), each check made from the sandbox's ordered request log:

- no licence is removed before Exchange has reported the leaver's mailbox as shared (several leavers, a slow conversion);
- every removal over its threshold (max_removals, a count or a share, under set or remove) is refused, and nothing is removed.

The figures go to tests/output/reliability/offboarding_safety.json.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import requests

from tests.integration.plugins.modules.pp_support import pp_state, role_members
from tests.integration.support import ROOT, last_seq, play, playbook, record_figures, release_when

OUT = os.path.join(ROOT, "tests", "output", "reliability", "offboarding_safety.json")
DOMAIN = "northwindacct.com"
TOM = "tom.baker@" + DOMAIN
SARAH = "sarah.jones@" + DOMAIN
EXTRA_LEAVERS = ["ava.clarke", "noah.singh", "zoe.martin"]
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
DIRECTORY_ROLES = {"Exchange Administrator": EXCHANGE_ADMIN, "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
                   "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1", "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
                   "Password Administrator": "966707d0-3269-4727-9be2-8c3a10f19b9d"}
SERVICE_ACCOUNT = "practiceprotect@northwindacct.onmicrosoft.com"
LICENCE_PATH = re.compile(r"/users/([^/]+)/assignLicense$", re.I)


def record(section, figures):
    record_figures(OUT, section, figures)


def users_by_upn(sandbox):
    return dict((u["userPrincipalName"].lower(), u) for u in sandbox.state()["users"] if u["_state"] == "active")


def exchange(sandbox, name, **params):
    """A cmdlet run directly as the sandbox's write app (setup, not under test)."""
    url = "%s/adminapi/beta/%s/InvokeCommand" % (sandbox.env["M365_EXCHANGE_URL"], sandbox.env["M365_TENANT_ID"])
    token = sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"])
    with requests.Session() as http:
        http.verify = sandbox.env["M365_CA_PATH"]
        http.trust_env = False
        response = http.post(url, json={"CmdletInput": {"CmdletName": name, "Parameters": params}}, headers={"Authorization": "Bearer " + token},
                             timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["value"]


# -- no licence removal before Exchange shows the mailbox shared -------------------------------------------------------

def held_back(leavers):
    """A log condition: Exchange was asked for the mailbox after a leaver's conversion was requested (while conversions
    are held back, so it cannot have shown it shared yet)."""
    keys = set(key for u in leavers for key in (u["id"].lower(), u["userPrincipalName"].lower()))

    def condition(entries):
        asked = False
        for entry in entries:
            if entry.get("cmdlet") == "Set-Mailbox" and "Type" in entry["body_keys"] and (entry.get("identity") or "").lower() in keys:
                asked = True
            elif asked and entry.get("cmdlet") == "Get-Mailbox" and entry["status"] == 200:
                return True
        return False
    return condition


def licence_timeline(entries, leaver):
    """For one leaver (a user dict): seqs of the Get-Mailbox answers that showed the mailbox shared, of those that showed it
    not shared after the conversion was asked, and of the successful assignLicense calls (Graph paths hold the id or UPN)."""
    keys = {leaver["id"].lower(), leaver["userPrincipalName"].lower()}
    shared, not_yet, licences, asked = [], [], [], None
    for entry in entries:
        if entry["service"] == "exchange":
            if entry.get("cmdlet") == "Set-Mailbox" and "Type" in entry["body_keys"] and (entry.get("identity") or "").lower() in keys:
                asked = asked or entry["seq"]
            if entry.get("cmdlet") != "Get-Mailbox" or entry["status"] != 200:
                continue
            kind = (entry.get("recipient_types") or {}).get(leaver["id"].lower())
            if kind == "SharedMailbox":
                shared.append(entry["seq"])
            elif asked and (kind is not None or entry.get("identity") is None):  # a list read that left it out: not shared either
                not_yet.append(entry["seq"])
        elif entry["service"] == "graph":
            match = LICENCE_PATH.search(entry["path"])
            if match and match.group(1).lower() in keys and entry["method"] == "POST" and (entry["status"] or 0) < 300:
                licences.append(entry["seq"])
    return shared, not_yet, licences


def test_the_timeline_sees_a_licence_removed_too_early():
    """The check itself (no sandbox): a licence call before Exchange showed the mailbox shared is caught."""
    leaver = {"id": "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13", "userPrincipalName": TOM}

    def exo(seq, cmdlet, identity, body_keys=(), shown=None):
        return {"seq": seq, "service": "exchange", "cmdlet": cmdlet, "identity": identity, "body_keys": list(body_keys), "status": 200,
                "recipient_types": {leaver["id"]: shown} if shown else {}}

    def licence(seq, key):
        return {"seq": seq, "service": "graph", "method": "POST", "path": "/v1.0/users/%s/assignLicense" % key, "status": 200}

    entries = [exo(1, "Set-Mailbox", leaver["id"], ["Identity", "Type"]), exo(2, "Get-Mailbox", leaver["id"], shown="UserMailbox"),
               licence(3, TOM), exo(4, "Get-Mailbox", leaver["id"], shown="SharedMailbox"), licence(5, leaver["id"])]
    assert licence_timeline(entries, leaver) == ([4], [2], [3, 5])
    assert held_back([leaver])(entries[:1]) is False and held_back([leaver])(entries[:2]) is True


def test_licences_go_only_after_exchange_shows_each_mailbox_shared(sandbox, run_playbook, tmp_path):
    upns = [TOM] + ["%s@%s" % (name, DOMAIN) for name in EXTRA_LEAVERS]
    sandbox.seed([{"userPrincipalName": upn, "displayName": upn.split("@")[0].replace(".", " ").title(), "usageLocation": "AU",
                   "licenses": ["O365_BUSINESS_PREMIUM", "FLOW_FREE"]} for upn in upns[1:]])
    inventory = tmp_path / "leavers.yml"
    inventory.write_text(json.dumps({"all": {"children": {"leavers": {"hosts": dict(
        (upn.split("@")[0], {"person": {"upn": upn}}) for upn in upns)}}}}))
    before = users_by_upn(sandbox)
    leavers = [before[upn] for upn in upns]
    assert all(u["assignedLicenses"] for u in leavers)
    # Every conversion is held back until a leaver has been seen waiting for one; then each still takes a second.
    sandbox.configure(shared_conversion_delay_s=3600)
    start = last_seq(sandbox)
    with release_when(sandbox, held_back(leavers), shared_conversion_delay_s=1):
        run = run_playbook(playbook("offboard.yml"), inventory=str(inventory),
                           extra_vars={"offboard_sync": False, "offboard_shared_timeout": 120})
    entries = sandbox.log(start)
    after = users_by_upn(sandbox)
    boxes = dict((m["ExternalDirectoryObjectId"], m) for m in sandbox.state()["mailboxes"])

    figures = {"leavers_checked": len(leavers), "licence_removals_after_shared": 0, "licence_removals_before_shared": 0,
               "leavers_seen_not_yet_shared": 0, "per_leaver": {}}
    problems = []
    for leaver in leavers:
        shared, not_yet, licences = licence_timeline(entries, leaver)
        first_shared = shared[0] if shared else None
        early = [seq for seq in licences if first_shared is None or seq < first_shared]
        figures["licence_removals_before_shared"] += len(early)
        figures["licence_removals_after_shared"] += len(licences) - len(early)
        figures["leavers_seen_not_yet_shared"] += bool(not_yet)
        figures["per_leaver"][leaver["userPrincipalName"]] = {"shared_shown_at": first_shared, "not_yet_shared_at": not_yet,
                                                              "licence_calls_at": licences}
        if not licences or early:
            problems.append("%s: licence calls %s, Exchange first showed the mailbox shared at %s" % (
                leaver["userPrincipalName"], licences, first_shared))
        if after[leaver["userPrincipalName"].lower()]["assignedLicenses"] or boxes[leaver["id"]]["RecipientTypeDetails"] != "SharedMailbox":
            problems.append("%s: not offboarded: licences %s, mailbox %s" % (
                leaver["userPrincipalName"], after[leaver["userPrincipalName"].lower()]["assignedLicenses"],
                boxes[leaver["id"]]["RecipientTypeDetails"]))
    record("licence_after_shared", figures)
    assert run.rc == 0, run.stdout[-3000:]
    assert not problems, "\n".join(problems)
    assert figures["leavers_seen_not_yet_shared"] >= 1  # the conversion really was slow: someone had to wait for it


# -- every purge over its threshold is refused ------------------------------------------------------------------------

def task(name, module, **options):
    return {"name": name, "practiceprotect.m365.%s" % module: options, "register": re.sub(r"\W+", "_", name), "ignore_errors": True}


def removals(entries):
    """The log entries that take something away: role members, addresses, mailbox permissions, role assignments."""
    out = []
    for entry in entries:
        if entry["service"] == "pp" and entry["path"].lower() in ("/roles/updaterole", "/saasmanage/removeusersandgroupsfromrole"):
            out.append(entry)
        elif entry.get("cmdlet") in ("Remove-MailboxPermission",) or (entry.get("cmdlet") == "Set-Mailbox" and "EmailAddresses" in entry["body_keys"]):
            out.append(entry)
        elif entry["service"] == "graph" and entry["method"] == "DELETE":
            out.append(entry)
    return out


def test_every_purge_over_its_threshold_is_refused_and_removes_nothing(sandbox, run_playbook):
    # Setup (not under test): three aliases on Tom's mailbox, three users with full access to it, a service account with
    # five directory roles.
    colleagues = ["amy.lee", "ben.ng", "cara.wu"]
    sandbox.seed([{"userPrincipalName": "%s@%s" % (name, DOMAIN), "displayName": name.replace(".", " ").title()} for name in colleagues]
                 + [{"userPrincipalName": SERVICE_ACCOUNT, "displayName": "Practice Protect"}])
    aliases = ["tb@" + DOMAIN, "tbaker@" + DOMAIN, "tom@" + DOMAIN]
    exchange(sandbox, "Set-Mailbox", Identity=TOM, EmailAddresses={"@odata.type": "#Exchange.GenericHashTable", "Add": aliases})
    for name in colleagues:
        exchange(sandbox, "Add-MailboxPermission", Identity=TOM, User="%s@%s" % (name, DOMAIN), AccessRights=["FullAccess"],
                 InheritanceType="All", AutoMapping=False)
    account = users_by_upn(sandbox)[SERVICE_ACCOUNT]
    with sandbox.graph_session() as graph:
        for role_id in DIRECTORY_ROLES.values():
            response = graph.post(sandbox.graph_url + "/roleManagement/directory/roleAssignments",
                                  json={"principalId": account["id"], "roleDefinitionId": role_id, "directoryScopeId": "/"}, timeout=30)
            assert response.status_code == 201, response.text
    portal_access = role_members(sandbox, "Portal Access")
    assert len(portal_access) == 4

    def snapshot():
        state = sandbox.state()
        box = [m for m in state["mailboxes"] if (m.get("UserPrincipalName") or "").lower() == TOM][0]
        return {"roles": sorted((r["Name"], sorted(r.get("Members") or [])) for r in pp_state(sandbox)["roles"]),
                "addresses": sorted(box["EmailAddresses"]), "full_access": sorted(str(p) for p in box["FullAccess"]),
                "role_assignments": sorted(a["id"] for a in state["role_assignments"]),
                "licences": sorted(lic["skuId"] for lic in users_by_upn(sandbox)[TOM]["assignedLicenses"])}

    before = snapshot()
    assert len(before["full_access"]) == 3 and len(before["role_assignments"]) >= 1 + len(DIRECTORY_ROLES) and len(before["licences"]) == 1
    keep = SARAH
    # (task, how many removals it would make): each refusal must name that count and max_removals
    purges = [
        (task("pp_role_member over max_removals", "pp_role_member", role="Portal Access", members={"set": [keep]}, max_removals=2), 3),
        (task("pp_role_member over a share", "pp_role_member", role="Portal Access", members={"set": [keep]}, max_removals="50%"), 3),
        (task("pp_role_member remove over max_removals", "pp_role_member", role="Portal Access",
              members={"remove": [TOM, "priya.patel@" + DOMAIN, "reception@" + DOMAIN]}, max_removals=2), 3),
        (task("pp_role_member all roles over max_removals", "pp_role_member", all_roles=True,
              members={"remove": [TOM, "priya.patel@" + DOMAIN]}, max_removals=1), 2),
        (task("m365_alias over max_removals", "m365_alias", user=TOM, aliases={"set": ["tb@" + DOMAIN]}, max_removals=1), 2),
        (task("m365_alias remove over a share", "m365_alias", user=TOM, aliases={"remove": aliases}, max_removals="50%"), 3),
        (task("m365_alias items over max_removals", "m365_alias", items=[{"user": TOM, "aliases": {"set": []}, "max_removals": 2}],
              fail_on_item_error=False), 3),
        (task("m365_mailbox full access over max_removals", "m365_mailbox", user=TOM, full_access={"set": [keep]}, max_removals=2), 3),
        (task("m365_mailbox full access remove over a share", "m365_mailbox", user=TOM,
              full_access={"remove": ["%s@%s" % (name, DOMAIN) for name in colleagues]}, max_removals="50%"), 3),
        (task("m365_mailbox items full access over max_removals", "m365_mailbox",
              items=[{"user": TOM, "full_access": {"set": []}, "max_removals": 2}], fail_on_item_error=False), 3),
        (task("m365_user licences over max_removals", "m365_user", user=TOM, licenses={"set": []}, max_removals=0, allow_mail_loss=True), 1),
        (task("service_account roles over max_removals", "service_account", roles={"set": ["Exchange Administrator"]}, max_removals=3), 4),
        (task("service_account roles remove over a share", "service_account",
              roles={"remove": ["Global Reader", "User Administrator", "Helpdesk Administrator"]}, max_removals="50%"), 3),
    ]
    start = last_seq(sandbox)
    run = run_playbook(play(*[purge for purge, _ in purges]))
    entries = sandbox.log(start)

    figures = {"purges_attempted": len(purges), "purges_refused": 0, "removals_made": len(removals(entries)),
               "writes_made": len([e for e in entries if e["write"]]), "messages": {},
               "offboard_user_role": "no purge by omission: Practice Protect roles are removed by name (all_roles with members.remove) "
                                     "and licences (licenses.set: []) only once the mailbox shows shared"}
    problems = []
    for purge, count in purges:
        ran = run.task(purge["name"])
        outcomes = ran["result"].get("outcomes")
        if outcomes is None:  # one object: the task itself is refused
            failed = [ran["result"]] if ran["status"] == "failed" else []
        else:  # items: the person is refused, the task goes on (fail_on_item_error false)
            failed = [o for o in outcomes.values() if o.get("failed")]
        message = " / ".join(o.get("msg", "") for o in failed)
        figures["messages"][purge["name"]] = message
        refused = len(failed) == 1 and "max_removals" in message and " %d " % count in message
        figures["purges_refused"] += refused
        if not refused:
            problems.append("%s was not refused naming %d removals and max_removals: %s" % (purge["name"], count, json.dumps(ran)[:1500]))
    record("purges_over_threshold", figures)
    assert not problems, "\n".join(problems)
    assert figures["removals_made"] == 0 and figures["writes_made"] == 0, [(e["method"], e["path"], e.get("cmdlet")) for e in entries if e["write"]]
    assert snapshot() == before
