# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _people

KNOWN = ["onboard_default_licenses", "onboard_password_recipient", "onboard_person", "onboard_deployment"]


@pytest.mark.parametrize("name, suggestion", [
    ("onboard_default_licences", "onboard_default_licenses"),
    ("onboard_pasword_recipient", "onboard_password_recipient"),
    ("onboard_something_else", None),
])
def test_unknown_role_variables_get_the_closest_known_name(name, suggestion):
    found = _people.unknown_variables([name, "onboard_person", "other_var", "onboard_result"], "onboard_", KNOWN, reserved=("onboard_result",))
    assert found == [(name, suggestion)]
    text = _people.describe_unknown(found)
    assert name in text and (suggestion or "no role variable has a similar name") in text


def test_a_failed_step_blocks_only_what_depends_on_it():
    person = _people.Person("jane", {})
    person.upn = "jane@x.com"
    person.fail("invite", "invitation", "Practice Protect is down")
    assert person.blocked("invite") and not person.blocked("aliases")
    assert _people.active([person], "aliases") == [person] and _people.active([person], "invite") == []
    person.fail(_people.CHECKS, "checks", "bad")
    assert person.blocked("aliases")


def test_a_whole_step_failure_fails_each_person_it_was_for():
    people = [_people.Person(h, {}) for h in ("a", "b")]
    for p in people:
        p.upn = p.host + "@x.com"
    out = _people.outcomes_of({"failed": True, "msg": "connection refused"}, people, lambda p: p.upn, "invite", "invitation")
    assert out == {} and all(p.failures == [("invite", "invitation", "connection refused")] for p in people)
    people = [_people.Person(h, {}) for h in ("a", "b")]
    for p in people:
        p.upn = p.host + "@x.com"
    out = _people.outcomes_of({"outcomes": {"a@x.com": {"changed": True}, "b@x.com": {"failed": True, "msg": "no seat"}}}, people,
                              lambda p: p.upn, "m365", "account")
    assert list(out) == [people[0]] and people[1].failures[0][2] == "no seat"


def test_outcome_sentences():
    person = _people.Person("jane", {})
    person.upn = "jane@x.com"
    assert _people.outcome_text(person, "onboarded", False) == "jane@x.com: already as requested"
    person.note("account", "created", changed=True)
    assert _people.outcome_text(person, "onboarded", True) == "jane@x.com: would be onboarded"
    person.fail("sync", "outbound provisioning", "The service account is missing.")
    text = _people.outcome_text(person, "onboarded", False)
    assert text.startswith("jane@x.com was not onboarded: outbound provisioning: The service account is missing. ")
    assert "relaunch on failed hosts" in text
    summary = _people.summary([_people.person_report(person, "onboarded", False)])
    assert summary == {"people": 1, "changed": 0, "unchanged": 0, "failed": 1, "failed_by_step": {"outbound provisioning": 1}}
