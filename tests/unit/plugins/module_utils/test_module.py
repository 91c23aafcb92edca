# -*- coding: utf-8 -*-
"""Module.run: one object or many, checked first, planned together, applied after, failures per item."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.practiceprotect.m365.plugins.module_utils import _module
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

ITEM_SPEC = dict(
    name=dict(type="str", required=True),
    size=dict(type="int", default=1),
    secret=dict(type="str", no_log=True),
)


# A complete Microsoft 365 connection (the module never uses it: nothing here calls a service).
CONNECTION = {"tenant_id": "5f0c6a3e-2b7d-4c1a-9e8f-3d6b1a2c4e50", "client_id": "4a1d7c3e-8b2f-4e6a-9c5d-1f3b7a9e2c40",
              "client_secret": "unit-test-client-secret"}


def run(args, calls, capsys, fail_on=()):
    """Run a module built on Module with ``args``; returns (exit code, result)."""

    def plan(m, p):
        calls.append(("plan", p["name"], p["size"]))
        if p["name"] in fail_on:
            raise ValidationError("%s is not allowed." % p["name"], field="name")
        if p["size"] == 0:
            return {"changed": False, "name": p["name"], "echo": p["secret"]}, None

        def apply():
            calls.append(("apply", p["name"]))
            return {"changed": True, "name": p["name"], "diff": {"before": {}, "after": {"size": p["size"]}}}
        return {"changed": True, "name": p["name"]}, apply

    def prefetch(m, params_list):
        calls.append(("prefetch", [p["name"] for p in params_list]))

    with patch_module_args(dict(CONNECTION, **args)):
        module = _module.Module(ITEM_SPEC, items=(ITEM_SPEC, "name"), supports_check_mode=True)
        with pytest.raises(SystemExit) as exc:
            module.run(plan, prefetch=prefetch)
    return exc.value.code, json.loads(capsys.readouterr().out)


def test_single_object_plans_then_applies(capsys):
    calls = []
    code, result = run({"name": "a", "size": 2}, calls, capsys)
    assert code == 0 and result["changed"] is True
    assert calls == [("plan", "a", 2), ("apply", "a")]  # no prefetch for one object


def test_items_prefetch_once_plan_everyone_before_any_apply(capsys):
    calls = []
    code, result = run({"size": 3, "items": [{"name": "a"}, {"name": "B", "size": 0}, {"name": "c"}]}, calls, capsys)
    assert code == 0
    assert calls[:4] == [("prefetch", ["a", "B", "c"]), ("plan", "a", 3), ("plan", "B", 0), ("plan", "c", 3)]
    assert sorted(calls[4:]) == [("apply", "a"), ("apply", "c")]  # applied by the worker pool, in any order
    assert sorted(result["outcomes"]) == ["a", "b", "c"]  # keys in lower case
    assert result["outcomes"]["b"]["changed"] is False and result["changed"] is True
    assert [d["before_header"] for d in result["diff"]] == ["a", "c"]


def test_a_failing_item_does_not_stop_the_others(capsys):
    calls = []
    code, result = run({"fail_on_item_error": False, "items": [{"name": "a"}, {"name": "bad"}]}, calls, capsys, fail_on=("bad",))
    assert code == 0
    assert result["failed_items"] == ["bad"]
    assert result["outcomes"]["bad"] == {"failed": True, "changed": False, "msg": "bad is not allowed.", "field": "name"}
    assert ("apply", "a") in calls


def test_a_failing_item_fails_the_task_by_default_after_the_others(capsys):
    calls = []
    code, result = run({"items": [{"name": "a"}, {"name": "bad"}]}, calls, capsys, fail_on=("bad",))
    assert code == 1
    assert result["msg"] == "1 of 2 items failed: bad: bad is not allowed."
    assert ("apply", "a") in calls


@pytest.mark.parametrize("items, message", [
    ([{"name": "a", "size": "big"}], "items[0] (a): argument 'size' is of type"),
    ([{"size": 2}], "items[0] (?): missing required arguments: name"),
    ([{"name": "a", "colour": "red"}], "items[0] (a): colour. Supported parameters include"),
    ([{"name": "a"}, {"name": "A"}], "items lists A twice; give each object once."),
])
def test_bad_items_fail_before_any_call(capsys, items, message):
    calls = []
    code, result = run({"items": items}, calls, capsys)
    assert code == 1 and result["msg"].startswith(message)
    assert calls == []


def test_item_secrets_are_masked(capsys):
    calls = []

    code, result = run({"items": [{"name": "a", "size": 0, "secret": "Sup3r-S3cret-Value"}]}, calls, capsys)
    assert code == 0
    assert result["outcomes"]["a"]["echo"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # an item's no_log option is masked like a task option
    assert "Sup3r-S3cret-Value" not in json.dumps(result)


def test_the_start_up_log_line_leaves_items_out(capsys, monkeypatch):
    logged = []
    monkeypatch.setattr(_module.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    run({"items": [{"name": "a", "size": 0, "secret": "Sup3r-S3cret-Value"}]}, [], capsys)
    assert logged and "(1 items)" in logged[0]
    assert not [line for line in logged if "Sup3r-S3cret-Value" in line]


@pytest.mark.parametrize("args, message", [({"name": "a", "items": [{"name": "b"}]}, "parameters are mutually exclusive: name|items"),
                                           ({}, "one of the following is required: name, items")])
def test_name_and_items_exclude_each_other(capsys, args, message):
    with patch_module_args(dict(CONNECTION, **args)):
        with pytest.raises(SystemExit):
            _module.Module(ITEM_SPEC, items=(ITEM_SPEC, "name"))
    assert json.loads(capsys.readouterr().out)["msg"] == message


def test_shared_makes_a_service_once_per_run(capsys):
    with patch_module_args(dict(CONNECTION, name="a")):
        module = _module.Module(ITEM_SPEC, items=(ITEM_SPEC, "name"))
    made = []

    def make():
        made.append(1)
        return object()
    assert module.shared("service", make) is module.shared("service", make) and made == [1]


def test_specs_leave_out_the_items_whose_options_fail_their_checks():
    def build(params):
        if params["name"] == "bad":
            raise ValidationError("bad is not allowed.", field="name")
        return params["name"].upper()
    assert _module.Module.specs(build, [{"name": "a"}, {"name": "bad"}, {"name": "c"}]) == ["A", "C"]


def test_plans_are_applied_by_concurrent_workers(capsys):
    import threading
    barrier = threading.Barrier(4, timeout=5)  # only passes if four applies run at the same time
    seen = []

    def plan(m, p):
        def apply():
            barrier.wait()
            seen.append(threading.current_thread().name)
            return {"changed": True, "name": p["name"]}
        return {"changed": True, "name": p["name"]}, apply

    with patch_module_args(dict(CONNECTION, workers=4, items=[{"name": "p%d" % i} for i in range(8)])):
        module = _module.Module(ITEM_SPEC, items=(ITEM_SPEC, "name"), supports_check_mode=True)
        with pytest.raises(SystemExit) as exc:
            module.run(plan)
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0 and result["failed_items"] == []
    assert sorted(result["outcomes"]) == ["p%d" % i for i in range(8)]
    assert len(set(seen)) == 4


def test_workers_below_one_are_refused_before_any_call(capsys):
    calls = []
    code, result = run({"workers": 0, "items": [{"name": "a"}]}, calls, capsys)
    assert code == 1 and calls == []
    assert result["msg"] == "workers must be at least 1 (1 applies the items one after another)."


def concurrent_module(capsys, **args):
    with patch_module_args(dict(CONNECTION, **args)):
        return _module.Module(ITEM_SPEC, items=(ITEM_SPEC, "name"), supports_check_mode=True)


def test_concurrently_runs_on_the_workers_and_answers_in_order(capsys):
    import threading
    module = concurrent_module(capsys, workers=4, name="a")
    barrier = threading.Barrier(4, timeout=5)  # only passes if four reads run at the same time

    def read(value):
        barrier.wait()
        return value * 10
    assert module.concurrently(read, [3, 1, 2, 4]) == [(30, None), (10, None), (20, None), (40, None)]


def test_concurrently_keeps_each_values_error_and_goes_on(capsys):
    module = concurrent_module(capsys, workers=3, name="a")
    refused = ValidationError("b is not allowed.", field="name")

    def read(value):
        if value == "b":
            raise refused
        return value.upper()
    assert module.concurrently(read, ["a", "b", "c"]) == [("A", None), (None, refused), ("C", None)]


def test_concurrently_with_one_worker_reads_one_after_another(capsys):
    import threading
    module = concurrent_module(capsys, workers=1, name="a")
    threads = []
    assert module.concurrently(lambda value: threads.append(threading.current_thread()) or value, ["a", "b"]) == [("a", None), ("b", None)]
    assert threads == [threading.current_thread()] * 2
    assert module.concurrently(lambda value: value, []) == []


def test_concurrently_uses_the_default_pool_size_without_the_workers_option(capsys):
    import threading
    with patch_module_args(dict(CONNECTION, name="a")):
        module = _module.Module(ITEM_SPEC)  # a module without items has no workers option
    barrier = threading.Barrier(_module.APPLY_WORKERS, timeout=5)
    assert len(module.concurrently(lambda value: barrier.wait(), range(_module.APPLY_WORKERS))) == _module.APPLY_WORKERS
