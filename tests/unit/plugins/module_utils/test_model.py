# -*- coding: utf-8 -*-
"""The resource tables and the one list idiom (plugins/module_utils/_model.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model, _users
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

HELD = ["a@x.com", "B@x.com", "c@x.com"]


@pytest.mark.parametrize("value, to_add, to_remove, after", [
    ({"add": ["d@x.com", "b@x.com"]}, ["d@x.com"], [], ["a@x.com", "B@x.com", "c@x.com", "d@x.com"]),
    ({"remove": ["b@x.com", "z@x.com"]}, [], ["B@x.com"], ["a@x.com", "c@x.com"]),
    ({"add": ["d@x.com"], "remove": ["a@x.com"]}, ["d@x.com"], ["a@x.com"], ["B@x.com", "c@x.com", "d@x.com"]),
    ({"set": ["c@x.com", "e@x.com"], "add": ["ignored@x.com"]}, ["e@x.com"], ["a@x.com", "B@x.com"], ["c@x.com", "e@x.com"]),
    ({"set": []}, [], ["a@x.com", "B@x.com", "c@x.com"], []),
    ({}, [], [], HELD),
])
def test_add_remove_and_set(value, to_add, to_remove, after):
    change = _model.ListChange(value, "aliases")
    assert change.plan(HELD) == (to_add, to_remove)
    assert change.after(HELD) == after
    assert change.given == bool(value)


def test_a_plain_list_or_a_value_in_add_and_remove_is_refused():
    with pytest.raises(ValidationError, match="aliases takes add, remove or set"):
        _model.ListChange(["a@x.com"], "aliases")
    with pytest.raises(ValidationError, match="lists a@x.com under both add and remove"):
        _model.ListChange({"add": ["A@x.com"], "remove": ["a@x.com"]}, "aliases")


@pytest.mark.parametrize("value, held, limit", [(None, 7, 5), (3, 7, 3), ("3", 7, 3), ("50%", 7, 3), ("10%", 7, 1), ("100%", 7, 7), (0, 7, 0)])
def test_removal_limit_is_a_count_or_a_share(value, held, limit):
    assert _model.removal_limit(value, held, 5)[0] == limit


@pytest.mark.parametrize("value", ["ten", "150%", -1, True])
def test_a_bad_removal_limit_is_refused(value):
    with pytest.raises(ValidationError) as err:
        _model.removal_limit(value, 7, 5)
    assert err.value.field == "max_removals"


def test_removals_over_the_limit_are_refused_naming_them():
    with pytest.raises(ValidationError) as err:
        _model.check_removals(["a", "b", "c"], 2, 10, 5, "aliases", "jane@x.com")
    assert err.value.message == ("Refusing to remove 3 aliases from jane@x.com, more than max_removals (2): a, b, c. List them to keep them, "
                                 "or raise max_removals if this is intended.")
    assert _model.check_removals(["a"], "10%", 10, 5, "aliases", "jane@x.com") == 1


def test_the_user_table_makes_the_argument_spec_the_properties_and_the_comparison():
    spec = _users.USER.argument_spec()
    assert spec["employee_id"] == {"type": "str"} and spec["other_mails"] == {"type": "list", "elements": "str"}
    props = _users.USER.properties({"mobile_phone": "0412 345 678", "usage_location": "au", "job_title": "Partner"}, {"region": "AU"})
    assert props == {"mobilePhone": "+61412345678", "usageLocation": "AU", "jobTitle": "Partner"}
    current = {"mobilePhone": "+61 412 345 678", "usageLocation": "au", "jobTitle": "Associate"}
    assert _users.USER.changes(props, current) == {"jobTitle": "Partner"}
    with pytest.raises(ValidationError, match="employee_id is 17 characters long; Microsoft 365 allows at most 16"):
        _users.USER.properties({"employee_id": "x" * 17})
