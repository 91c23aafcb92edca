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

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "plugins", "modules")
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


def services(name):
    """The services the module's Module names (read from its source, without running it)."""
    tree = ast.parse(module_source(name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Module":
            named = [k.value for k in node.keywords if k.arg == "services"]
            return tuple(ast.literal_eval(named[0])) if named else ("graph",)
    raise AssertionError("%s builds no Module" % name)


def returned_counters(names):
    """call_stats() of a module talking to ``names`` whose clients were all used."""
    module = object.__new__(Module)
    module.services = names
    module.retry_stats = None
    module._graph = _Client()
    module._exchange = _Client()
    module._pp = _Client()
    return set(module.call_stats())


ACTIONS = os.path.join(MODULES, "..", "action")
# Modules that are an action plugin's documentation (the roles' engines and person_result) build no module class: they
# return their own keys, documented by hand.
ACTION_ONLY = sorted(os.path.splitext(f)[0] for f in os.listdir(ACTIONS) if f.endswith(".py") and not f.startswith("_"))
NAMES = sorted(os.path.splitext(f)[0] for f in os.listdir(MODULES) if f.endswith(".py") and not f.startswith("_")
               and os.path.splitext(f)[0] not in ACTION_ONLY)


def test_every_module_is_checked():
    assert len(NAMES) == 14 and ACTION_ONLY == ["offboard", "onboard", "person_result"]


@pytest.mark.parametrize("name", NAMES)
def test_the_counters_a_module_returns_are_documented(name):
    counters = returned_counters(services(name))
    assert counters <= COUNTERS, "a new counter: add it to COUNTERS and to the RETURN docs: %s" % sorted(counters - COUNTERS)
    docs = documented(name)
    assert sorted(counters - set(docs)) == [], "returned but not documented"
    assert sorted((COUNTERS & set(docs)) - counters) == [], "documented but never returned"
    for counter in counters:
        assert docs[counter]["type"] == "int" and docs[counter]["description"]
