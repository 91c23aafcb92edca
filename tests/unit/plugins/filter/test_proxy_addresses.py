# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.practiceprotect.m365.plugins.filter.proxy_addresses import FilterModule

FILTERS = FilterModule().filters()


def test_build_puts_the_primary_first():
    build = FILTERS["proxy_addresses"]
    assert build("jane@northwindacct.com", ["jc@northwindacct.com", "smtp:j.c@northwindacct.com"]) == \
        "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com;smtp:j.c@northwindacct.com"
    assert build({"primary": "jane@northwindacct.com", "aliases": ["jc@northwindacct.com"]}) == \
        "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com"


def test_parse_returns_primary_and_aliases():
    assert FILTERS["parse_proxy_addresses"]("SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com") == {
        "primary": "jane@northwindacct.com", "aliases": ["jc@northwindacct.com"]}


def test_round_trip():
    text = "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com"
    assert FILTERS["proxy_addresses"](FILTERS["parse_proxy_addresses"](text)) == text


@pytest.mark.parametrize("name, args, message", [
    ("proxy_addresses", ("jane@northwindacct.com", ["jane@northwindacct.com"]), "jane@northwindacct.com appears more than once"),
    ("proxy_addresses", ("jane@northwindacct.com", ["foo:jc@northwindacct.com"]), "has the unknown prefix 'foo:'"),
    ("proxy_addresses", ({"primary": "a@northwindacct.com"}, ["b@northwindacct.com"]), "give either a dict"),
    ("parse_proxy_addresses", ("SMTP:a@northwindacct.com;sip:a@northwindacct.com",), "has the unknown prefix 'sip:'"),
    ("parse_proxy_addresses", ("SMTP:a@northwindacct.com;smtp:A@northwindacct.com",), "appears more than once"),
    ("parse_proxy_addresses", ("smtp:a@northwindacct.com",), "must be the primary address"),
])
def test_errors_are_filter_errors_with_the_reason(name, args, message):
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS[name](*args)
    assert message in str(err.value)
