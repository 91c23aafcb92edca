# -*- coding: utf-8 -*-
"""docs/permissions.md against the code: every module has its row, the Practice Protect modules declare the admin rights
their row lists (and name them when a read is refused), and the rights of the writes agree with the docs and the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os
import re

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import describe_error

from ansible_collections.practiceprotect.m365.plugins.module_utils import _practice_protect as pp
from tests.sandbox.pp import ENDPOINTS as SANDBOX_ENDPOINTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# person_result calls no service (it reads a registered result), so it has no row.
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py") and name != "person_result.py")
PP_MODULES = ["doctor", "outbound_sync", "pp_role_member", "pp_user"]
# The engines of the roles run other modules; their rows may only name what those modules' rows name.
ENGINES = {"onboard": ["m365_user", "m365_user_info", "m365_address_info", "m365_alias", "m365_mailbox", "m365_send_mail", "pp_user",
                       "pp_role_member", "outbound_sync", "m365_group_member"],
           "offboard": ["m365_user", "m365_user_info", "m365_access", "m365_group_member", "m365_mailbox", "pp_user", "pp_role_member",
                        "outbound_sync"]}


def sections():
    """docs/permissions.md as {heading: [table rows as cell lists]}."""
    out, heading = {}, ""
    with open(os.path.join(ROOT, "docs", "permissions.md")) as handle:
        for line in handle:
            if line.startswith("## "):
                heading = line[3:].strip()
            elif line.startswith("|") and not line.startswith("|---"):
                out.setdefault(heading, []).append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def module_rows(rows):
    return dict((cells[0].strip("`"), cells[1]) for cells in rows if re.match(r"^`\w+`$", cells[0]))


def declared_rights(module):
    """The ``admin_rights`` a module passes to its Module (read from its source, without running it)."""
    with open(os.path.join(ROOT, "plugins", "modules", module + ".py")) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Module":
            for keyword in node.keywords:
                if keyword.arg == "admin_rights":
                    return list(ast.literal_eval(keyword.value))
    return []


def test_every_module_has_a_row():
    docs = sections()
    graph = module_rows(docs["Per module"])
    rights = module_rows(next(rows for heading, rows in docs.items() if heading.startswith("Practice Protect")))
    assert sorted(set(graph) | set(rights)) == MODULES
    assert sorted(rights) == sorted(PP_MODULES + list(ENGINES))
    for module, cell in graph.items():
        assert re.findall(r"`([A-Za-z.]+)`", cell), module


@pytest.mark.parametrize("module", PP_MODULES)
def test_practice_protect_modules_declare_the_rights_of_their_row(module):
    rows = module_rows(next(rows for heading, rows in sections().items() if heading.startswith("Practice Protect")))
    assert declared_rights(module) == re.findall(r"`([A-Za-z ]+)`", rows[module])


def test_write_rights_agree_with_the_docs_and_the_sandbox():
    rows = next(rows for heading, rows in sections().items() if heading.startswith("Practice Protect"))
    documented = {}
    for cells in rows:
        right = re.findall(r"`([A-Za-z ]+)`", cells[1])
        if cells[0].startswith("`/") and len(right) >= 1 and "any admin right" not in cells[1]:
            for path in re.findall(r"`(/[A-Za-z/]+)`", cells[0]):
                documented[path] = right[0]
    from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_sync import JOB_WRITE_RIGHTS
    writes = dict(pp.WRITE_RIGHTS, **JOB_WRITE_RIGHTS)
    assert documented == writes
    for path, right in writes.items():
        assert SANDBOX_ENDPOINTS[path][1] == right and SANDBOX_ENDPOINTS[path][2] is True, path
    assert not [p for p in pp.ENDPOINTS.values() if p in SANDBOX_ENDPOINTS and SANDBOX_ENDPOINTS[p][2] and p not in pp.WRITE_RIGHTS]


class _Module:
    """What a module's failure says, given the rights it declares."""

    def __init__(self, rights):
        self.admin_rights = tuple(rights)

    def describe(self, error):
        return describe_error(error, self.admin_rights)


REFUSED_READ = "You are not authorized to perform this operation. The caller needs the Read Only System Administration admin right."


def test_a_refused_read_names_the_rights_the_module_needs():
    error = pp.PracticeProtectError(REFUSED_READ, error_id="Unauthorized", status=200, path="/Redrock/query")
    message, fields = _Module(["Role Management"]).describe(error)
    assert message == (REFUSED_READ + " The Practice Protect client's role lacks an admin right for /Redrock/query (any admin right allows "
                                      "the reads); this module needs the Role Management admin right; see docs/permissions.md.")
    assert fields["error_code"] == "Unauthorized" and fields["path"] == "/Redrock/query"


def test_a_refused_write_keeps_the_services_sentence_and_names_the_path():
    text = "You are not authorized to perform this operation. The caller needs the User Management admin right."
    error = pp.PracticeProtectError(text, error_id="Unauthorized", status=200, path="/CDirectoryService/CreateUser")
    assert _Module(["User Management"]).describe(error)[0] == (
        text + " The Practice Protect client's role lacks an admin right for /CDirectoryService/CreateUser; see docs/permissions.md.")
    assert _Module([]).describe(pp.PracticeProtectError(REFUSED_READ, error_id="Unauthorized", path="/Redrock/query"))[0] == (
        REFUSED_READ + " The Practice Protect client's role lacks an admin right for /Redrock/query; see docs/permissions.md.")


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engines_rows_name_only_what_its_modules_need(engine):
    docs = sections()
    graph = module_rows(docs["Per module"])
    rights = module_rows(next(rows for heading, rows in docs.items() if heading.startswith("Practice Protect")))
    used = ENGINES[engine]
    allowed = set(p for m in used if m in graph for p in re.findall(r"`([A-Za-z.]+)`", graph[m]))
    allowed |= set(r for m in used if m in rights for r in re.findall(r"`([A-Za-z ]+)`", rights[m]))
    named = set(re.findall(r"`([A-Za-z.]+)`", graph[engine])) | set(re.findall(r"`([A-Za-z ]+)`", rights[engine]))
    assert named and named <= allowed, named - allowed
    assert "Exchange Administrator" in graph[engine]
