# -*- coding: utf-8 -*-
"""The fault suite's table (tests/integration/fault_table.py): rows recorded per fault, gathered, printed and summed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest

from tests.integration import fault_table


class Reporter:
    def __init__(self):
        self.lines = []

    def write_sep(self, sep, title):
        self.lines.append("%s %s %s" % (sep * 3, title, sep * 3))

    def write_line(self, line):
        self.lines.append(line)


class Config:
    pass


def test_record_writes_one_file_per_fault_and_the_latest_run_wins(tmp_path):
    fault_table.record("429 storm", 2, 2, 0, 0, directory=str(tmp_path), retries=14)
    fault_table.record("reset/after", 1, 0, 1, 0, directory=str(tmp_path))
    fault_table.record("429 storm", 3, 3, 0, 1, directory=str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == ["429_storm.json", "reset_after.json"]
    rows = fault_table.load(str(tmp_path))
    assert [(r["fault"], r["runs"], r["converged"], r["duplicates"], r["lost"]) for r in rows] == [
        ("429 storm", 3, 3, 0, 1), ("reset/after", 1, 0, 1, 0)]
    assert rows[0]["details"] == {}


def test_load_skips_files_that_are_not_rows(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"fault": "x"}))
    (tmp_path / "notes.txt").write_text("hello")
    fault_table.record("slow conversion", 1, 1, 0, 0, directory=str(tmp_path))
    assert [r["fault"] for r in fault_table.load(str(tmp_path))] == ["slow conversion"]
    assert fault_table.load(str(tmp_path / "missing")) == []


@pytest.mark.parametrize("args, message", [(("", 1, 1, 0, 0), "fault"), (("f", -1, 0, 0, 0), "runs"), (("f", 1, 2, 0, 0), "exceed"),
                                           (("f", 1, 1, True, 0), "duplicates"), (("f", 1, 1, 0, 0.5), "lost")])
def test_bad_rows_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        fault_table.row(*args)


def test_render_lines_up_the_columns_and_sums_them():
    rows = [fault_table.row("a", 2, 2, 0, 0), fault_table.row("a much longer fault name", 10, 9, 1, 3)]
    lines = fault_table.render(rows)
    assert lines[0].split() == ["fault", "runs", "converged", "duplicates", "lost"]
    assert lines[2].split() == ["a", "2", "2", "0", "0"]
    assert lines[3].split() == ["a", "much", "longer", "fault", "name", "10", "9", "1", "3"]
    assert lines[-1].split() == ["total", "12", "11", "1", "3"]
    assert len(set(len(line) for line in lines)) == 1  # every line as wide as the header


def test_report_prints_and_writes_the_summary_when_this_run_recorded_a_row(tmp_path):
    rows_dir, summary = str(tmp_path / "faults"), str(tmp_path / "faults.json")
    config = Config()
    setattr(config, fault_table.STARTED, time.time() - 1)
    fault_table.record("bursts of 5xx", 4, 4, 0, 0, directory=rows_dir)
    fault_table.record("token expiry", 2, 1, 0, 2, directory=rows_dir)
    reporter = Reporter()
    printed = fault_table.report(reporter, config, directory=rows_dir, path=summary)
    assert [r["fault"] for r in printed] == ["bursts of 5xx", "token expiry"]
    assert "fault, runs, converged, duplicates, lost" in reporter.lines[0]
    assert any(line.split() == ["token", "expiry", "2", "1", "0", "2"] for line in reporter.lines)
    assert any(line.split() == ["total", "6", "5", "0", "2"] for line in reporter.lines)
    with open(summary) as handle:
        written = json.load(handle)
    assert written["total"] == {"fault": "total", "runs": 6, "converged": 5, "duplicates": 0, "lost": 2}
    assert [r["fault"] for r in written["faults"]] == ["bursts of 5xx", "token expiry"]


def test_report_stays_quiet_for_stale_rows_and_on_xdist_workers(tmp_path):
    rows_dir, summary = str(tmp_path / "faults"), str(tmp_path / "faults.json")
    fault_table.record("old", 1, 1, 0, 0, directory=rows_dir)
    config = Config()
    setattr(config, fault_table.STARTED, time.time() + 60)  # a session that started after the row was recorded
    reporter = Reporter()
    assert fault_table.report(reporter, config, directory=rows_dir, path=summary) == [] and reporter.lines == []
    assert not os.path.exists(summary)
    worker = Config()
    worker.workerinput = {"workerid": "gw0"}
    assert fault_table.report(reporter, worker, directory=rows_dir, path=summary) == [] and reporter.lines == []
    assert fault_table.report(reporter, Config(), directory=str(tmp_path / "none"), path=summary) == []


def test_the_hooks_are_wired_into_the_integration_conftest():
    from tests.integration import conftest
    assert conftest.pytest_terminal_summary is fault_table.pytest_terminal_summary
    assert conftest.pytest_sessionstart is fault_table.pytest_sessionstart
