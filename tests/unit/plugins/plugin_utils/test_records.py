# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _records


def record(**changes):
    base = _records.leaver_record("2026-12-01T10:00:00+00:00", "entra_source", ["ENTERPRISEPACK"], ["Tax Team"], "sarah@x.com", ["Sarah@x.com"],
                                  True, True, True, False)
    base.update(changes)
    return base


def test_encode_and_decode_round_trip_and_nothing_left_removes_the_extension():
    props = _records.encode(_records.PENDING, record())
    assert props["activation"] == "pending" and json.loads(props["leaver"])["full_access"] == ["sarah@x.com"]
    assert _records.decode(props) == ("pending", record())
    assert _records.encode(None, None) is None
    assert _records.decode(None) == (None, {})
    assert _records.decode({"leaver": "not json"}) == (None, {})


def test_merge_keeps_what_an_earlier_run_recorded():
    first = record()
    again = _records.leaver_record("2026-12-02T10:00:00+00:00", "entra_source", [], [], "", [], False, False, False, False)
    merged = _records.merge(first, again)
    assert merged == first
    more = _records.merge(first, record(roles=["Audit Team"], licences=[], forward_to="other@x.com"))
    assert more["roles"] == ["Audit Team", "Tax Team"] and more["licences"] == ["ENTERPRISEPACK"] and more["forward_to"] == "sarah@x.com"
    assert _records.merge({}, again) == again


def test_a_record_of_many_grants_stays_within_graphs_two_kilobytes():
    big = record(full_access=["person%02d@northwindacct.com" % i for i in range(20)], roles=["Role %d" % i for i in range(20)])
    assert len(json.dumps(_records.encode(None, big))) < 2000
