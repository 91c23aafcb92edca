# -*- coding: utf-8 -*-
"""The Graph permission table the modules name on a 403 agrees with the sandbox's enforcement and docs/permissions.md."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import describe_error
from ansible_collections.practiceprotect.m365.plugins.module_utils import _permissions
from ansible_collections.practiceprotect.m365.plugins.module_utils._permissions import graph_permissions
from tests.sandbox.graph_permissions import ROUTE_PERMISSIONS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ID = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"


@pytest.mark.parametrize("route", sorted(k for k, v in ROUTE_PERMISSIONS.items() if v is not None and "(" not in k))
def test_every_sandbox_route_names_the_permissions_the_sandbox_accepts(route):
    method, path = route.split(" ", 1)
    assert set(graph_permissions(method, path.replace("{id}", ID))) == set(ROUTE_PERMISSIONS[route])


def test_docs_per_call_rows_agree():
    with open(os.path.join(ROOT, "docs", "permissions.md")) as handle:
        text = handle.read()
    section = text.split("## Per call", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            rows[cells[0]] = re.findall(r"`([A-Za-z.]+)`", cells[1].split("(")[0] if "(" in cells[1] else cells[1])
    assert rows["`POST /users/{id}/assignLicense`"] == list(graph_permissions("POST", "users/%s/assignLicense" % ID))
    assert rows["`GET /domains`"] == list(graph_permissions("GET", "domains"))
    assert rows["`POST /users/{id}/sendMail`"] == list(graph_permissions("POST", "users/%s/sendMail" % ID))


def test_a_403_names_the_permissions_that_allow_the_call():
    error = GraphError("Insufficient privileges to complete the operation.", status=403, code="Authorization_RequestDenied", method="GET",
                       path="subscribedSkus")
    message, fields = describe_error(error)
    assert message == ("Insufficient privileges to complete the operation. The application lacks a Microsoft Graph permission for GET "
                       "subscribedSkus (any one of: Organization.Read.All, LicenseAssignment.Read.All, Directory.Read.All, "
                       "Organization.ReadWrite.All, LicenseAssignment.ReadWrite.All, Directory.ReadWrite.All) (or, where the user holds "
                       "an admin role, a directory role of its own); see docs/permissions.md.")
    assert fields["status"] == 403
    unknown = describe_error(GraphError("Insufficient privileges to complete the operation.", status=403, method="GET", path="sites"))[0]
    assert "any one of" not in unknown


# -- what each module and role needs: _permissions.MODULE_NEEDS (the doctor's data) against docs/permissions.md ------------

def _module_rows(heading):
    with open(os.path.join(ROOT, "docs", "permissions.md")) as handle:
        text = handle.read()
    section = text.split("\n## " + heading, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.match(r"^`\w+`$", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_module_needs_are_the_docs_per_module_rows():
    graph_rows = _module_rows("Per module")
    rights_rows = _module_rows("Practice Protect")
    assert sorted(set(graph_rows) | set(rights_rows)) == sorted(_permissions.MODULE_NEEDS)
    for module, (permissions, exchange_role, rights) in _permissions.MODULE_NEEDS.items():
        cell = graph_rows.get(module, "")
        assert list(permissions) == re.findall(r"`([A-Za-z.]+)`", cell), module
        assert exchange_role == ("Exchange Administrator" in cell), module
        assert list(rights) == re.findall(r"`([A-Za-z ]+)`", rights_rows.get(module, "")), module


def test_role_needs_are_the_union_of_their_modules():
    assert _permissions.needs("role_sync") == {
        "permissions": ["User.Read.All", "Organization.Read.All", "GroupMember.Read.All", "Exchange.ManageAsApp"], "exchange_role": True,
        "admin_rights": ["Role Management", "Application Management"]}
    assert _permissions.needs("onboard_user") == _permissions.needs("onboard")
    with pytest.raises(KeyError):
        _permissions.needs("nothing")


def test_the_roles_run_the_modules_the_table_names():
    for role, modules in _permissions.ROLE_MODULES.items():
        with open(os.path.join(ROOT, "roles", role, "tasks", "main.yml")) as handle:
            text = handle.read()
        for name in os.listdir(os.path.join(ROOT, "roles", role, "tasks")):
            with open(os.path.join(ROOT, "roles", role, "tasks", name)) as handle:
                text += handle.read()
        used = sorted(set(re.findall(r"practiceprotect\.m365\.(\w+):", text)) - {"person_result"})
        assert used == sorted(modules), role


@pytest.mark.parametrize("needed, granted, missing", [
    (["User.Read.All"], ["User.ReadWrite.All"], []),
    (["User.Read.All", "Mail.Send"], ["Directory.Read.All"], ["Mail.Send"]),
    (["GroupMember.Read.All"], ["Group.Read.All"], []),
    (["RoleManagement.ReadWrite.Directory"], ["RoleManagement.Read.Directory"], ["RoleManagement.ReadWrite.Directory"]),
    (["Organization.Read.All"], ["LicenseAssignment.Read.All"], []),
    (["User.ReadWrite.All"], ["User.Read.All"], ["User.ReadWrite.All"]),
])
def test_a_broader_permission_covers_a_needed_one(needed, granted, missing):
    assert _permissions.missing_permissions(needed, granted) == missing
