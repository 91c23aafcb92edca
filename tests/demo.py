# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make demo``: the joiner / leaver story against the sandbox.

Start the sandbox, create the Practice Protect service account, onboard the example inventory (people
of both deployment types), show each person, run the onboarding again to show that nothing changes,
offboard the example leaver and show from the sandbox's ordered request log that the mailbox was shared
before the licence was freed, and stop the sandbox.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile

from tests.sandbox.client import start_sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLBACKS = os.path.join(ROOT, "tests", "integration", "callback_plugins")
INVENTORY = "inventory/example/hosts.yml"


def playbook(sandbox, name, results_file, *extra):
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
        "ANSIBLE_CALLBACKS_ENABLED": "results_file",
        "RESULTS_FILE": results_file,
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "0",
        "ANSIBLE_DISPLAY_OK_HOSTS": "1",
    })
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", INVENTORY, "playbooks/" + name] + list(extra)
    print("$ " + " ".join(["ansible-playbook"] + cmd[1:]), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit("demo: %s failed (exit %d)" % (name, proc.returncode))
    with open(results_file) as handle:
        return json.load(handle)


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = "-+-".join("-" * w for w in widths)
    out = [" | ".join(str(h).ljust(w) for h, w in zip(headers, widths)), line]
    out += [" | ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def facts(results, name):
    """Each host's last value of the fact ``name`` set during the run."""
    found = {}
    for task in results["tasks"]:
        value = (task["result"].get("ansible_facts") or {}).get(name)
        if value is not None:
            found[task["host"]] = value
    return found


def summary(sandbox, onboarded):
    state = sandbox.state()
    pp = sandbox.control("GET", "pp/state")
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in state["skus"])
    users = dict((u["userPrincipalName"].lower(), u) for u in state["users"])
    role_names = {}
    for role in pp["roles"]:
        for member in role.get("Members") or []:
            role_names.setdefault(member.lower(), []).append(role["Name"])
    rows = []
    for host, result in sorted(onboarded.items()):
        upn = result["upn"]
        user = users.get(upn)
        aliases = sorted(a[5:] for a in (user or {}).get("proxyAddresses") or [] if a.startswith("smtp:") and not a.lower().endswith(".onmicrosoft.com"))
        rows.append((host, result["deployment"], upn if user else "(not in Microsoft 365)",
                     ", ".join(skus.get(lic["skuId"], lic["skuId"]) for lic in (user or {}).get("assignedLicenses") or []) or "none",
                     ", ".join(aliases) or "-", ", ".join(sorted(role_names.get(upn, []))) or "-", result["sync"]))
    return table(rows, ("person", "deployment", "Microsoft 365 UPN", "licence", "aliases", "Practice Protect roles", "sync"))


def leaver_order(sandbox, since, upn):
    """The leaver's conversion, the read that showed it shared, and the licence removal, in request order."""
    state = sandbox.state()
    user_id = next(u["id"] for u in state["users"] if u["userPrincipalName"].lower() == upn)
    events = []
    for entry in sandbox.log(since=since):
        if entry.get("cmdlet") == "Set-Mailbox" and "Type" in entry.get("body_keys", []):
            events.append((entry["seq"], "Exchange: Set-Mailbox -Type Shared"))
        elif entry.get("cmdlet") == "Get-Mailbox" and events and events[-1][1].startswith("Exchange: Set-Mailbox -Type"):
            events.append((entry["seq"], "Exchange: Get-Mailbox (the module waits here until it shows SharedMailbox)"))
        elif entry["path"].endswith("/users/%s/assignLicense" % user_id):
            events.append((entry["seq"], "Graph: assignLicense removeLicenses (the licence is freed)"))
    return events


def main():
    work = tempfile.mkdtemp(prefix="m365-demo-")
    print("== Starting the sandbox (a local stand-in for Microsoft 365, Exchange Online and Practice Protect)", flush=True)
    sandbox = start_sandbox(os.path.join(work, "sandbox"))
    try:
        print("   Graph: %s   Practice Protect: %s" % (sandbox.env["M365_GRAPH_URL"], sandbox.env["PP_URL"]), flush=True)

        print("\n== The Practice Protect service account (federation: Global Administrator)", flush=True)
        playbook(sandbox, "service_account.yml", os.path.join(work, "account.json"),
                 "-e", "service_account_purpose=federation", "-e", "service_account_federation_enabled=true")

        print("\n== Onboard the joiners of inventory/example (both deployment types)", flush=True)
        first = playbook(sandbox, "onboard.yml", os.path.join(work, "onboard.json"))
        onboarded = facts(first, "onboard_result")
        print("\n" + summary(sandbox, onboarded), flush=True)
        mails = sandbox.mail()
        print("\n   activation mails sent: %d (to %s); passwords printed: none" % (
            len(mails), ", ".join(sorted(set(r if isinstance(r, str) else r["emailAddress"]["address"]
                                  for m in mails for r in m.get("toRecipients", []))))), flush=True)

        print("\n== The same inventory again", flush=True)
        mark = sandbox.log()[-1]["seq"]
        second = playbook(sandbox, "onboard.yml", os.path.join(work, "again.json"))
        changed = sum(s["changed"] for s in second["stats"].values())
        writes = len(sandbox.writes(since=mark))
        print("\n   changed tasks: %d, writes sent to Microsoft 365 and Practice Protect: %d" % (changed, writes), flush=True)
        if changed or writes:
            raise SystemExit("demo: the second run was expected to change nothing")

        print("\n== Offboard the leaver of inventory/example", flush=True)
        mark = sandbox.log()[-1]["seq"]
        leavers = playbook(sandbox, "offboard.yml", os.path.join(work, "offboard.json"))
        for host, result in sorted(facts(leavers, "offboard_result").items()):
            print("\n   %s: sign-in blocked %s, sessions revoked %s, Practice Protect roles removed: %s, mailbox %s, licences removed: %s" % (
                result["upn"], result["sign_in_blocked"], result["sessions_revoked"], ", ".join(result["pp_roles_removed"]) or "none",
                result["mailbox"], ", ".join(result["licenses_removed"]) or "none"), flush=True)
            events = leaver_order(sandbox, mark, result["upn"])
            print("   In request order:", flush=True)
            for seq, what in events:
                print("     #%-5d %s" % (seq, what), flush=True)
            labels = [what for _, what in events]
            if not (len(labels) >= 3 and labels[0].startswith("Exchange: Set-Mailbox") and labels[1].startswith("Exchange: Get-Mailbox")
                    and labels[-1].startswith("Graph: assignLicense")):
                raise SystemExit("demo: expected the mailbox to be shared before the licence was freed")
    finally:
        sandbox.stop()
        print("\n== Sandbox stopped", flush=True)


if __name__ == "__main__":
    main()
