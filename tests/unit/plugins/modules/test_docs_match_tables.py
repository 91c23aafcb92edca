# -*- coding: utf-8 -*-
"""Each resource's table of fields is the one place an attribute is declared: the module's argument spec comes from
it, its DOCUMENTATION must say what the table says (type, the service's name, the length limit), the list options
document the one list idiom, and the onboarding role's person carries exactly the fields the table marks for it.
(ansible-test's validate-modules holds DOCUMENTATION against the argument spec itself; this holds both against the
table.)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import pytest
import yaml

from ansible_collections.practiceprotect.m365.plugins.module_utils import _groups
from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _users

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TABLES = {"m365_user": (_users.USER, "Microsoft 365 keeps it as"), "pp_user": (_pp_users.PP_USER, "Practice Protect keeps it as"),
          "m365_group_member": (_groups.MEMBERSHIP, "Microsoft 365 keeps it as")}
# Module -> its many-valued options (each takes add / remove / set) and whether it has max_removals.
LIST_OPTIONS = {"m365_user": ["licenses"], "m365_alias": ["aliases"], "m365_mailbox": ["full_access"], "pp_role_member": ["members"],
                "service_account": ["roles"], "m365_group_member": ["groups"], "app_registration": ["permissions"]}


def module_source(name):
    with open(os.path.join(ROOT, "plugins", "modules", name + ".py")) as handle:
        return handle.read()


def documentation(name):
    tree = ast.parse(module_source(name))
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "DOCUMENTATION"]
    return yaml.safe_load(node.value.value)


def text(option):
    description = option.get("description") or ""
    return " ".join(description) if isinstance(description, list) else description


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_field_of_the_table_is_documented_as_the_table_says(name):
    table, says = TABLES[name]
    options = documentation(name)["options"]
    for field in table.fields:
        assert field.option in options, "%s: the table's %s is not documented" % (name, field.option)
        doc = options[field.option]
        assert doc.get("type", "str") == field.type, "%s.%s: documented as %s, the table says %s" % (name, field.option, doc.get("type"), field.type)
        assert doc.get("elements") == field.elements, "%s.%s elements" % (name, field.option)
        assert doc.get("choices") == (list(field.choices) if field.choices else None), "%s.%s choices" % (name, field.option)
        if field.service:
            assert "%s C(%s)" % (says, field.service) in text(doc), "%s.%s must say '%s C(%s)'" % (name, field.option, says, field.service)
        if field.max_length:
            assert "at most %d characters" % field.max_length in text(doc), "%s.%s must give the limit %d" % (name, field.option, field.max_length)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_argument_spec_is_the_tables(name):
    """The module builds its item spec from the table: the source names the table's argument_spec, and every field's
    spec is the one the table gives."""
    table, _says = TABLES[name]
    assert "%s.argument_spec(" % table_variable(name) in module_source(name)
    spec = table.argument_spec()
    for field in table.fields:
        assert spec[field.option] == field.spec()


def table_variable(name):
    return {"m365_user": "_users.USER", "pp_user": "_pp_users.PP_USER", "m365_group_member": "_groups.MEMBERSHIP"}[name]


@pytest.mark.parametrize("name", sorted(LIST_OPTIONS))
def test_list_options_take_add_remove_set_and_one_removal_limit(name):
    options = documentation(name)["options"]
    for option in LIST_OPTIONS[name]:
        doc = options[option]
        assert doc["type"] == "dict" and sorted(doc["suboptions"]) == sorted(_model.LIST_ACTIONS), "%s.%s" % (name, option)
        for action in _model.LIST_ACTIONS:
            assert doc["suboptions"][action]["type"] == "list" and doc["suboptions"][action]["elements"] == "str"
    assert options["max_removals"]["type"] == "raw", "%s.max_removals takes a count or a share" % name
    assert [o for o in options if o.startswith("max_removals") and o != "max_removals"] == []
    assert not {"exclusive", "purge_licenses", "state"} & set(options) or name in ("m365_user", "service_account", "app_registration")


def test_one_name_for_the_person():
    for name in ("m365_user", "m365_alias", "m365_mailbox", "pp_user"):
        options = documentation(name)["options"]
        assert "user" in options and "aliases" not in options["user"], name
        assert not {"user_principal_name", "upn", "name", "login_name"} & set(options), name


def test_the_onboarding_person_carries_the_fields_the_table_marks():
    with open(os.path.join(ROOT, "roles", "onboard_user", "meta", "argument_specs.yml")) as handle:
        person = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["onboard_person"]["options"]
    marked = _users.USER.role_fields()
    assert marked, "the table marks no field for the person"
    for field in marked:
        assert field.option in person, "onboard_person lacks %s, which the table marks role=True" % field.option
        assert person[field.option].get("type", "str") == field.type, field.option
    # And the other way round: a person key that is a field of the table is marked for it.
    for key in person:
        if key in _users.USER.by_option:
            assert _users.USER.by_option[key].role, "onboard_person.%s is a field of the table but not marked role=True" % key
