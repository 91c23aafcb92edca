# -*- coding: utf-8 -*-
"""Every module's EXAMPLES, run as written and in order, as the tasks of one play against a fresh sandbox tenant.

A reader copies the examples one after the other, so each must work in the state the ones before it leave. The
connection comes from the M365_* and PP_* environment variables, as the examples say; a task that registers a
password has ``no_log`` and stays quiet. Only what the examples take for granted is prepared: the Practice Protect
service account for outbound_sync (seed 002 comes first), and a licensed mailbox for the sender of m365_send_mail
(the sandbox's seed has one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import glob
import json
import os

import pytest
import yaml

from tests.integration.plugins.modules.pp_support import make_service_account
from tests.integration.support import ROOT

MODULES = sorted(os.path.splitext(os.path.basename(path))[0] for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
DOMAIN = "northwindacct.com"
LICENCE = "O365_BUSINESS_PREMIUM"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"


def staff(sandbox, *names):
    """Licensed Microsoft 365 users with a mailbox: people the examples take as already there."""
    sandbox.seed([{"userPrincipalName": "%s@%s" % (name, DOMAIN), "displayName": name.replace(".", " ").title(), "usageLocation": "AU",
                   "licenses": [LICENCE]} for name in names])


def pp_people(sandbox, *people):
    """Practice Protect users (name, roles) the examples take as already there."""
    sandbox.control("POST", "pp/seed", json={"users": [{"Name": "%s@%s" % (name, DOMAIN), "Roles": list(roles)} for name, roles in people]})


def privileged_app(sandbox):
    """The automation app with the directory role that may reset an admin's password (the example says it needs it)."""
    principal = [a for a in sandbox.control("GET", "apps")["apps"] if a["client_id"] == sandbox.env["M365_CLIENT_ID"]][0]["service_principal_id"]
    with sandbox.graph_session() as graph:
        response = graph.post(sandbox.graph_url + "/roleManagement/directory/roleAssignments", timeout=30,
                              json={"roleDefinitionId": PRIVILEGED_AUTH_ADMIN, "principalId": principal, "directoryScopeId": "/"})
    assert response.status_code == 201, response.text


# What a module's examples take for granted beyond the sandbox's seed: the joiner that another module created first, a
# colleague's mailbox, the sender's mailbox, the service account, the app's directory role.
PREPARE = {
    "m365_alias": lambda sandbox: staff(sandbox, "jane.citizen"),
    "m365_group_member": lambda sandbox: staff(sandbox, "jane.citizen", "oliver.brown"),
    "m365_mailbox": lambda sandbox: staff(sandbox, "reception"),
    "m365_send_mail": lambda sandbox: staff(sandbox, "it.onboarding"),
    "outbound_sync": lambda sandbox: (make_service_account(sandbox), pp_people(sandbox, ("jane.citizen", ["Office 365"]))),
    # The staff: in Practice Protect, and licensed in Microsoft 365 (Portal Access is already in line with them).
    "pp_role_member": lambda sandbox: (staff(sandbox, "jane.citizen", "priya.patel", "reception"), pp_people(sandbox, ("jane.citizen", []))),
    "pp_user": lambda sandbox: staff(sandbox, "mei.wong"),
    "service_account": privileged_app,
}


def certificate_file(tmp_path):
    """The public certificate app_registration's example reads, beside the playbook."""
    from tests.sandbox.auth import make_certificate
    (tmp_path / "files").mkdir(exist_ok=True)
    (tmp_path / "files" / "practiceprotect.crt").write_bytes(make_certificate("Practice Protect")["cert_pem"])


# Files a module's examples read ({{ playbook_dir }}/files/...).
FILES = {"app_registration": certificate_file}


# The engines run for the hosts of an inventory, each host a person: their examples get one.
JOINER = {"upn": "mia.chen@" + DOMAIN, "given_name": "Mia", "surname": "Chen", "licenses": [LICENCE], "usage_location": "AU"}
INVENTORIES = {
    "onboard": {"mia.chen": {"onboard_person": JOINER}},
    "person_result": {"mia.chen": {"onboard_person": JOINER}},
    "offboard": {"tom.baker": {"offboard_upn": "tom.baker@" + DOMAIN}},
}


def inventory(tmp_path, name):
    """The inventory file of ``name``'s examples, or None for a module whose examples run on localhost."""
    if name not in INVENTORIES:
        return None
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": INVENTORIES[name]}}))
    return str(path)


def examples(name):
    with open(os.path.join(ROOT, "plugins", "modules", name + ".py")) as handle:
        tree = ast.parse(handle.read())
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "EXAMPLES"]
    return yaml.safe_load(node.value.value)


def test_every_module_has_examples_and_they_are_tasks():
    for name in MODULES:
        tasks = examples(name)
        assert isinstance(tasks, list) and tasks, "%s has no examples" % name
        for task in tasks:
            assert not {"hosts", "tasks", "roles"} & set(task), "%s: a whole play among the tasks (%s)" % (name, task.get("name"))
        assert any("practiceprotect.m365." + name in task for task in tasks), "no example of %s uses it" % name


@pytest.mark.parametrize("name", MODULES)
def test_examples_run_in_order(sandbox, run_playbook, tmp_path, name):
    if name in PREPARE:
        PREPARE[name](sandbox)
    if name in FILES:
        FILES[name](tmp_path)
    tasks = examples(name)
    hosts = inventory(tmp_path, name)
    play = json.dumps([{"name": "examples of %s" % name, "hosts": "all" if hosts else "localhost", "gather_facts": False, "tasks": tasks}])
    run = run_playbook(play, inventory=hosts)
    errors = [line for line in run.stdout.splitlines() if "ERROR" in line or line.startswith("TASK [")]
    assert run.rc == 0, "%s's examples failed:\n%s" % (name, "\n".join(errors[-6:]) or run.stdout[-1500:])
    ran = [t["task"] for t in run.tasks]
    assert ran == [task["name"] for task in tasks], "not every example ran: %s" % ran
