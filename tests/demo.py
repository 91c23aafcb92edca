# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make demo``: start the sandbox, create the example inventory's people, show them, run again to
show that nothing changes, and stop the sandbox."""

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


def playbook(sandbox, name, results_file):
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
        "ANSIBLE_CALLBACKS_ENABLED": "results_file",
        "RESULTS_FILE": results_file,
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "0",
    })
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventory/example/hosts.yml", "playbooks/" + name]
    print("$ " + " ".join(["ansible-playbook"] + cmd[1:]), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
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


def main():
    work = tempfile.mkdtemp(prefix="m365-demo-")
    print("== Starting the sandbox (a local stand-in for Microsoft 365)", flush=True)
    sandbox = start_sandbox(os.path.join(work, "sandbox"))
    try:
        print("   Graph: %s   login: %s" % (sandbox.env["M365_GRAPH_URL"], sandbox.env["M365_AUTHORITY_URL"]), flush=True)
        print("\n== First run: create the people of inventory/example", flush=True)
        first = playbook(sandbox, "users.yml", os.path.join(work, "first.json"))
        actions = dict((t["host"], t["result"].get("action")) for t in first["tasks"] if t["action"].endswith("m365_user"))
        skus = dict((s["skuId"], s["skuPartNumber"]) for s in sandbox.state()["skus"])
        users = dict((u["userPrincipalName"], u) for u in sandbox.state()["users"])
        rows = []
        for host, result in sorted((t["host"], t["result"]) for t in first["tasks"] if t["action"].endswith("m365_user")):
            user = users[result["user"]["userPrincipalName"]]
            rows.append((user["userPrincipalName"], ", ".join(skus.get(lic["skuId"], lic["skuId"]) for lic in user["assignedLicenses"]),
                         "enabled" if user.get("accountEnabled") else "disabled", actions[host]))
        print("\n" + table(rows, ("UPN", "licence", "sign-in", "first run")), flush=True)
        print("\n== Second run: the same inventory again", flush=True)
        mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
        second = playbook(sandbox, "users.yml", os.path.join(work, "second.json"))
        changed = sum(s["changed"] for s in second["stats"].values())
        writes = len(sandbox.writes(since=mark))
        print("\n   changed tasks: %d, writes sent to Microsoft 365: %d" % (changed, writes), flush=True)
        if changed or writes:
            raise SystemExit("demo: the second run was expected to change nothing")
    finally:
        sandbox.stop()
        print("== Sandbox stopped", flush=True)


if __name__ == "__main__":
    main()
