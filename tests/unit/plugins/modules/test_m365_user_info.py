# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.modules.m365_user_info import query_options


@pytest.mark.parametrize("flt, advanced", [
    ("department eq 'Tax'", False),
    ("startswith(displayName,'Jo')", False),
    ("endswith(mail,'@northwindacct.com')", True),
    ("accountEnabled ne false", True),
    ("not startswith(displayName,'A')", True),
    ("displayName eq 'not endswith(x) ne'", False),
    ("assignedLicenses/$count eq 0", True),
])
def test_advanced_mode_detected_from_filter(flt, advanced):
    params, headers = query_options(flt, ["id"], None)
    assert ("ConsistencyLevel" in headers) is advanced
    assert (params.get("$count") == "true") is advanced
    assert params["$filter"] == flt and params["$select"] == "id" and params["$top"] == "999"


def test_explicit_override():
    params, headers = query_options("department eq 'Tax'", None, True)
    assert headers == {"ConsistencyLevel": "eventual"} and "$select" not in params
