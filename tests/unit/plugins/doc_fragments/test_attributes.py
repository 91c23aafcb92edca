# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check-mode and diff-mode attributes as ansible-doc shows them: this collection's words (plugins/doc_fragments/
attributes.py, or the module's own), never ansible-core's generic text, and each module takes exactly one of the
fragment's variants, since the first fragment listed wins over later ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.practiceprotect.m365.plugins.doc_fragments.attributes import ModuleDocFragment

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
MODULES = sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py"))
GENERIC = ("Can run in check mode and return changed status prediction without modifying target.",
           "Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.")
FRAGMENT = "practiceprotect.m365.attributes"


@pytest.fixture(scope="module")
def docs():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "--json", "-t", "module"]
                         + ["practiceprotect.m365." + name for name in MODULES],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=True)
    return dict((name.split(".")[-1], value["doc"]) for name, value in json.loads(out.stdout).items())


def extends(name):
    """The module's extends_documentation_fragment, from its source (ansible-doc's output leaves it out)."""
    with open(os.path.join(ROOT, "plugins", "modules", name + ".py")) as handle:
        tree = ast.parse(handle.read())
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "DOCUMENTATION"]
    return yaml.safe_load(node.value.value).get("extends_documentation_fragment") or []


# Documentation of an action plugin that calls no service states its attributes in its own words.
OWN_WORDS = ("person_result",)


def variant(name):
    fragments = [f for f in extends(name) if f == FRAGMENT or f.startswith(FRAGMENT + ".")]
    if name in OWN_WORDS:
        assert fragments == [], "%s speaks for itself" % name
        return None
    assert len(fragments) == 1, "extend exactly one of the attributes fragments, not %s" % fragments
    return fragments[0].split(".")[3] if fragments[0].count(".") == 3 else "DOCUMENTATION"


@pytest.mark.parametrize("name", MODULES)
def test_attributes_say_what_this_collection_does(docs, name):
    doc = docs[name]
    kind = variant(name)
    expected = yaml.safe_load(getattr(ModuleDocFragment, kind))["attributes"] if kind else doc["attributes"]
    for attribute in ("check_mode", "diff_mode"):
        shown = doc["attributes"][attribute]
        description = " ".join(shown["description"]) if isinstance(shown["description"], list) else shown["description"]
        assert description not in GENERIC
        if doc["attributes"][attribute]["support"] == expected[attribute]["support"]:
            assert shown["description"] == expected[attribute]["description"]


def test_read_only_modules_say_so(docs):
    assert [name for name in MODULES if variant(name) == "INFO_MODULE"] == ["doctor", "m365_address_info", "m365_user_info"]
    assert docs["m365_user_info"]["attributes"]["diff_mode"]["support"] == "N/A"
