# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every counter a module's base class adds to its result (retries, the requests per service, replication waits,
batched calls) is documented in that module's RETURN, and no module documents one its class never returns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import pytest
import yaml

from ansible_collections.practiceprotect.m365.plugins.module_utils._exchange import ExchangeModule
from ansible_collections.practiceprotect.m365.plugins.module_utils._mail import MailModule
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import M365Module
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectModule

MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "plugins", "modules")
CLASSES = {"M365Module": M365Module, "ExchangeModule": ExchangeModule, "MailModule": MailModule,
           "PracticeProtectModule": PracticeProtectModule}
COUNTERS = {"retries", "graph_requests", "replication_waits", "graph_batched_calls", "exchange_requests", "pp_requests"}


class _Client:
    """A client that has done a bit of everything, so that every counter shows."""
    requests_sent = 3
    replication_waits = 1
    batch_item_retries = 1
    batched_calls = 2


def module_source(name):
    with open(os.path.join(MODULES, name + ".py")) as handle:
        return handle.read()


def documented(name):
    tree = ast.parse(module_source(name))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["RETURN"]:
            return yaml.safe_load(node.value.value) or {}
    raise AssertionError("%s has no RETURN" % name)


def base_class(name):
    """The module_utils class the module builds, and the keyword arguments it passes that change the counters."""
    tree = ast.parse(module_source(name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if func in CLASSES:
                m365 = any(k.arg == "m365" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords)
                return CLASSES[func], m365
    raise AssertionError("%s builds none of %s" % (name, sorted(CLASSES)))


def returned_counters(cls, m365):
    """call_stats() of a module of ``cls`` whose clients were all used (those it can have)."""
    module = object.__new__(cls)
    module.retry_stats = None
    module._graph = _Client() if cls is not PracticeProtectModule or m365 else None
    module._exchange = _Client()
    module._pp = _Client()
    module.m365 = m365
    return set(module.call_stats())


ACTIONS = os.path.join(MODULES, "..", "action")
# Modules that are an action plugin's documentation (the roles' engines and person_result) build no module class: they
# return their own keys, documented by hand.
ACTION_ONLY = sorted(os.path.splitext(f)[0] for f in os.listdir(ACTIONS) if f.endswith(".py") and not f.startswith("_"))
NAMES = sorted(os.path.splitext(f)[0] for f in os.listdir(MODULES) if f.endswith(".py") and not f.startswith("_")
               and os.path.splitext(f)[0] not in ACTION_ONLY)


def test_every_module_is_checked():
    assert len(NAMES) == 10 and ACTION_ONLY == ["offboard", "onboard", "person_result"]


@pytest.mark.parametrize("name", NAMES)
def test_the_counters_a_module_returns_are_documented(name):
    cls, m365 = base_class(name)
    counters = returned_counters(cls, m365)
    assert counters <= COUNTERS, "a new counter: add it to COUNTERS and to the RETURN docs: %s" % sorted(counters - COUNTERS)
    docs = documented(name)
    assert sorted(counters - set(docs)) == [], "returned but not documented"
    assert sorted((COUNTERS & set(docs)) - counters) == [], "documented but never returned"
    for counter in counters:
        assert docs[counter]["type"] == "int" and docs[counter]["description"]
