# -*- coding: utf-8 -*-
"""The doctor module's plan: the result every key of RETURN describes, report files, the snapshot, fail_on_error, and the
options the module passes to its checks."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json
import os

import pytest
import yaml

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import describe_error
from ansible_collections.practiceprotect.m365.plugins.modules import doctor
from tests.unit.plugins.module_utils.test__doctor import FakePP, Sources, graph_answers


class FakeAnsible:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class FakeModule:
    def __init__(self, tmp_path, check_mode=False, **options):
        self.params = dict(modules=None, service_account="practiceprotect", pp_app="Office 365", report_dir=str(tmp_path / "reports"),
                           write_reports=True, snapshot_path=None, snapshot_users=False, fail_on_error=False)
        self.params.update(options)
        self.check_mode = check_mode
        self.module = FakeAnsible()

    def describe(self, error):
        return describe_error(error)


@pytest.fixture
def fake_sources(monkeypatch):
    made = {}

    def build(m):
        made["sources"] = made.get("factory", Sources)()
        return made["sources"]
    monkeypatch.setattr(doctor, "Sources", build)
    return made


def returned_keys():
    with open(doctor.__file__) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["RETURN"]:
            return set(yaml.safe_load(node.value.value))
    raise AssertionError("no RETURN")


COUNTERS = {"retries", "graph_requests", "replication_waits", "exchange_requests", "pp_requests", "graph_batched_calls"}


def test_result_and_reports(tmp_path, fake_sources):
    result, apply = doctor.plan(FakeModule(tmp_path), FakeModule(tmp_path).params)
    assert apply is None and result["changed"] is False
    assert set(result) - {"changed"} | COUNTERS == returned_keys() - {"snapshot_path"} | COUNTERS
    assert result["summary"]["error"] == 0
    assert [line["check"] for line in result["checks"] if line["check"].startswith("permissions of")] == [
        "permissions of %s" % (t if t in doctor._permissions.MODULE_NEEDS else "role " + t) for t in doctor.DEFAULT_TARGETS]
    with open(result["report_files"]["json"]) as handle:
        assert json.load(handle)["checks"] == result["checks"]
    assert os.path.basename(result["report_files"]["markdown"]).startswith("doctor-")
    assert result["provisioning"]["app_registrations"][0]["appId"] == "pp-app"


def test_check_mode_marks_the_reports(tmp_path, fake_sources):
    m = FakeModule(tmp_path, check_mode=True)
    result = doctor.plan(m, m.params)[0]
    assert result["report_files"]["json"].endswith("-check.json")


def test_snapshot_written(tmp_path, fake_sources):
    m = FakeModule(tmp_path, snapshot_path=str(tmp_path / "snap.json"), write_reports=False)
    result = doctor.plan(m, m.params)[0]
    assert result["report_files"] is None
    with open(result["snapshot_path"]) as handle:
        assert json.load(handle)["domains"][0]["id"] == "contoso.com"


def test_fail_on_error(tmp_path, fake_sources):
    fake_sources["factory"] = lambda: Sources(pp=FakePP(rights=[]))
    m = FakeModule(tmp_path, fail_on_error=True, modules=["pp_user"])
    result = doctor.plan(m, m.params)[0]
    assert result["failed"] is True and result["msg"].startswith("The doctor found 2 error(s): admin rights of the client:")
    m = FakeModule(tmp_path, modules=["pp_user"])
    assert "failed" not in doctor.plan(m, m.params)[0]


def test_unwritable_report_dir_is_a_warning(tmp_path, fake_sources):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    m = FakeModule(tmp_path, report_dir=str(blocker / "reports"))
    result = doctor.plan(m, m.params)[0]
    assert result["report_files"] is None and "Set report_dir to a writable directory" in m.module.warnings[0]


def test_service_account_option_reaches_the_check(tmp_path, fake_sources):
    fake_sources["factory"] = lambda: Sources(graph=graph_answers(**{"users/pp-sync@contoso.com": {
        "id": "sa", "userPrincipalName": "pp-sync@contoso.com", "accountEnabled": True, "assignedLicenses": []}}))
    m = FakeModule(tmp_path, service_account="pp-sync@contoso.com", modules=["m365_user"])
    lines = dict((line["check"], line) for line in doctor.plan(m, m.params)[0]["checks"])
    assert lines["service account"]["detail"].startswith("pp-sync@contoso.com exists")


def test_an_unknown_module_name_fails_before_any_call(tmp_path, fake_sources):
    m = FakeModule(tmp_path, modules=["m365_users", "onboard_user"])
    with pytest.raises(doctor.v.ValidationError, match="modules: m365_users is not a module or role of this collection"):
        doctor.plan(m, m.params)
    assert "sources" not in fake_sources
