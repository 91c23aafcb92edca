# -*- coding: utf-8 -*-
"""The examples of docs/onboarding.md and docs/offboarding.md stay true to the roles, playbooks and inventory."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex

import pytest
import yaml

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _joiners, _leavers, _people
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ("onboarding.md", "offboarding.md")


def blocks(doc, language):
    with open(os.path.join(ROOT, "docs", doc)) as handle:
        return re.findall(r"```%s\n(.*?)```" % language, handle.read(), re.S)


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def role_spec(role):
    options = load("roles/%s/meta/argument_specs.yml" % role)["argument_specs"]["main"]["options"]
    return _to_arg_spec(options)


def _to_arg_spec(options):
    spec = {}
    for name, option in options.items():
        entry = dict((k, option[k]) for k in ("type", "elements", "choices", "required", "default") if k in option)
        if "options" in option:
            entry["options"] = _to_arg_spec(option["options"])
        spec[name] = entry
    return spec


def hosts_of(tree):
    """{host: vars} of an inventory tree (any depth of children)."""
    found = {}
    for name, group in (tree or {}).items():
        if not isinstance(group, dict):
            continue
        found.update(group.get("hosts") or {})
        found.update(hosts_of(group.get("children")))
    return found


def report_keys(role, fact):
    """The keys of the fact as the role's engine sets it (``result_fact`` of plugins/plugin_utils/_joiners.py or _leavers.py)."""
    person = _people.Person("jane.citizen", {})
    person.upn = "jane.citizen@northwindacct.com"
    if role == "onboard_user":
        return set(_joiners.result_fact(person, False))
    return set(_leavers.result_fact(person))


@pytest.mark.parametrize("doc", DOCS)
def test_yaml_examples_parse_and_people_match_the_example_inventory(doc):
    inventory = hosts_of(load("inventory/example/hosts.yml"))
    onboard = ArgumentSpecValidator(role_spec("onboard_user"))
    seen_people = 0
    for text in blocks(doc, "yaml"):
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            continue
        people = hosts_of(data["all"].get("children") if "all" in data else data)
        for host, host_vars in people.items():
            seen_people += 1
            assert host in inventory, "%s: %s is not in inventory/example" % (doc, host)
            for key, value in host_vars["person"].items():
                assert inventory[host]["person"][key] == value, "%s: %s.%s differs from inventory/example" % (doc, host, key)
            if doc == "onboarding.md":
                checked = onboard.validate({"onboard_person": host_vars["person"]})
                assert not checked.error_messages, checked.error_messages
    assert seen_people >= 1


def test_group_vars_example_is_the_real_one_and_valid():
    real = load("inventory/example/group_vars/people.yml")
    examples = [yaml.safe_load(t) for t in blocks("onboarding.md", "yaml")]
    shown = [e for e in examples if isinstance(e, dict) and "onboard_usage_location" in e][0]
    assert shown == real
    checked = ArgumentSpecValidator(role_spec("onboard_user")).validate(dict(shown, onboard_person={"upn": "a@b.com"}))
    assert not checked.error_messages, checked.error_messages


@pytest.mark.parametrize("doc, role, fact", [("onboarding.md", "onboard_user", "onboard_result"),
                                             ("offboarding.md", "offboard_user", "offboard_result")])
def test_documented_result_has_the_keys_the_role_sets(doc, role, fact):
    shown = [yaml.safe_load(t) for t in blocks(doc, "yaml")]
    result = [s[fact] for s in shown if isinstance(s, dict) and fact in s][0]
    assert set(result) == report_keys(role, fact)


@pytest.mark.parametrize("doc", DOCS)
def test_commands_name_real_files_and_variables(doc):
    commands = [line for text in blocks(doc, "bash") for line in text.splitlines() if line.startswith("ansible-playbook")]
    assert commands
    for line in commands:
        words = shlex.split(line.split("#")[0])
        assert os.path.isdir(os.path.join(ROOT, words[words.index("-i") + 1]))
        assert os.path.isfile(os.path.join(ROOT, [w for w in words if w.startswith("playbooks/")][0]))
        for extra in [words[i + 1] for i, w in enumerate(words) if w == "-e"]:
            assert extra.split("=")[0] in ("offboard_hosts", "onboard_hosts")


@pytest.mark.parametrize("doc, role", [("onboarding.md", "onboard_user"), ("offboarding.md", "offboard_user")])
def test_every_variable_named_in_the_docs_exists(doc, role):
    with open(os.path.join(ROOT, "docs", doc)) as handle:
        named = set(re.findall(r"`((?:on|off)board_[a-z_]+)`", handle.read()))
    playbook_vars = {"onboard_result", "onboard_password", "offboard_result", "offboard_hosts", "onboard_hosts", "onboard_user", "offboard_user",
                     "onboard_report", "offboard_report"}
    misspellings_shown = {"onboard_default_licences"}  # the docs show how a misspelled variable is refused
    known = set(role_spec(role)) | playbook_vars | misspellings_shown
    assert named and named <= known, sorted(named - known)
