# -*- coding: utf-8 -*-
"""Helpers shared by the Practice Protect integration tests (pp_user, pp_role_member, outbound_sync)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

SERVICE_ACCOUNT = "practiceprotect@northwindacct.onmicrosoft.com"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"


def task(module, title, register=None, **options):
    out = {"name": title, "practiceprotect.m365.%s" % module: options}
    if register:
        out["register"] = register
    return out


def pp_state(sandbox):
    return sandbox.control("GET", "pp/state")


def pp_user(sandbox, name):
    found = [u for u in pp_state(sandbox)["users"] if u["Name"].lower() == name.lower()]
    return found[0] if found else None


def role_members(sandbox, role):
    return sorted([r for r in pp_state(sandbox)["roles"] if r["Name"] == role][0]["Members"])


def graph_user(sandbox, upn):
    users = [u for u in sandbox.state()["users"] if u["_state"] == "active" and (u.get("userPrincipalName") or "").lower() == upn.lower()]
    return users[0] if users else None


def pp_writes(sandbox, since=0):
    return [e for e in sandbox.writes(since) if e["service"] == "pp"]


def mark(sandbox):
    entries = sandbox.log()
    return entries[-1]["seq"] if entries else 0


def make_service_account(sandbox, global_admin=True):
    """The tenant's Practice Protect service account, practiceprotect@<initial domain>, as Global Administrator.

    The role assignment goes through Graph's roleManagement API; a sandbox without directory roles answers 400
    (unknown segment) and then the account's existence is what the provisioning engine checks.
    """
    created = sandbox.seed([{"userPrincipalName": SERVICE_ACCOUNT, "displayName": "Practice Protect", "givenName": "Practice",
                             "surname": "Protect"}])["created"][0]
    if global_admin:
        with sandbox.graph_session() as graph:
            response = graph.post(sandbox.graph_url + "/roleManagement/directory/roleAssignments",
                                  json={"principalId": created, "roleDefinitionId": GLOBAL_ADMIN, "directoryScopeId": "/"}, timeout=30)
            assert response.status_code in (201, 400), response.text
            if response.status_code == 400:
                assert "Resource not found for the segment" in response.text, response.text
    return created


def fill_seats(sandbox, sku_part="O365_BUSINESS_PREMIUM"):
    """Consume every free seat of a SKU with seeded users, so a new user cannot get one."""
    sku = [s for s in sandbox.state()["skus"] if s["skuPartNumber"] == sku_part][0]
    free = sku["prepaidUnits"]["enabled"] - sku["consumedUnits"]
    sandbox.seed([{"userPrincipalName": "seat%02d@northwindacct.com" % i, "usageLocation": "AU", "licenses": [sku_part]} for i in range(free)])
    return sku["prepaidUnits"]["enabled"]


def documented_pp_rights(module):
    """The Practice Protect admin rights docs/permissions.md lists for a module."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "permissions.md")
    with open(path) as handle:
        in_section = False
        for line in handle:
            if line.startswith("## "):
                in_section = line.startswith("## Practice Protect")
            if not in_section:
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 2 and cells[0] == "`%s`" % module:
                return re.findall(r"`([A-Za-z ]+)`", cells[1])
    raise AssertionError("docs/permissions.md has no Practice Protect row for %s" % module)


def client_with_rights(sandbox, client_id, rights):
    """A new OAuth confidential client whose role holds exactly ``rights``; returns env overrides for ansible-playbook."""
    role = "Automation %s" % client_id.split("@")[0]
    created = sandbox.control("POST", "pp/seed", json={"roles": [{"Name": role, "AdminRights": list(rights)}],
                                                       "clients": [{"client_id": client_id, "Roles": [role]}]})
    return {"PP_CLIENT_ID": client_id, "PP_CLIENT_SECRET": created["clients"][0]["client_secret"]}
