# -*- coding: utf-8 -*-
"""The secret scan (tests/tools/secret_scan.py) proven on planted secrets: it finds them in every encoding a log
could show, names file and line, never prints them, passes clean logs and refuses to pass when it checked nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import io
import json
from urllib.parse import quote_plus

import pytest

from tests.tools import secret_scan

# Characters that every encoding changes: a quote and a backslash (JSON), '@', '/', '+', a space (URL).
SECRET = 'Zq9!Pl@nted/Secret "x" + y\\z'
OTHER = "Kw7-another-client-secret-value"


def json_escaped(value):
    return json.dumps(value)[1:-1]


PLANTED = {
    "verbatim": SECRET,
    "JSON-escaped": json.dumps({"invocation": {"module_args": {"password": SECRET}}}),
    "JSON-escaped twice": json.dumps({"stdout": json.dumps({"password": SECRET})}),
    "URL-encoded": "grant_type=client_credentials&client_secret=%s&scope=all" % quote_plus(SECRET, safe=""),
    "base64": "<<%s>>" % base64.b64encode(SECRET.encode()).decode(),
    "base64 inside a longer text": "Authorization: Basic %s" % base64.b64encode(b"client-id:" + SECRET.encode()).decode(),
}


def write_secrets(path, *records):
    with open(str(path), "w") as handle:
        for kind, value, where in records:
            handle.write(json.dumps({"kind": kind, "value": value, "where": where}) + "\n")


def scan(tmp_path, logs, secrets=None):
    """Run the scan with tmp_path's files; (exit status, output, report)."""
    out = io.StringIO()
    secrets = secrets if secrets is not None else [str(tmp_path / "secrets.jsonl")]
    report = tmp_path / "report.json"
    rc = secret_scan.main(["--secrets"] + secrets + ["--logs"] + logs + ["--report", str(report)], out=out)
    return rc, out.getvalue(), json.loads(report.read_text())


@pytest.fixture
def setup(tmp_path):
    write_secrets(tmp_path / "secrets.jsonl", ("password", SECRET, "pp /UserMgmt/ChangeUser: Password"),
                  ("client_secret", OTHER, "client secret of app 1"), ("password", "short", "ignored: too short"))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "clean.log").write_text("PLAY [localhost]\nok: [localhost] => {\"changed\": false}\n")
    return logs


@pytest.mark.parametrize("form", sorted(PLANTED))
def test_a_planted_secret_is_caught_in_each_encoding_and_never_printed(tmp_path, setup, form):
    text = PLANTED[form]
    if form != "verbatim":
        assert SECRET not in text  # the scan must decode-match, not find the plain value
    (setup / "nested").mkdir()
    (setup / "nested" / "run.log").write_text("TASK [user]\nsome line\n%s\nPLAY RECAP\n" % text)
    rc, output, report = scan(tmp_path, [str(setup)])
    assert rc == 1
    assert "run.log:3: password (pp /UserMgmt/ChangeUser: Password)" in output
    assert "1 hits" in output and "2 secrets of 2 kinds checked against 2 files" in output
    for shown in (SECRET, json_escaped(SECRET), quote_plus(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode(), SECRET[:4]):
        assert shown not in output
    assert "Zq9***" in output
    assert report["hits"] == 1 and report["findings"][0]["line"] == 3 and report["findings"][0]["kind"] == "password"
    assert SECRET not in json.dumps(report)


def test_every_line_with_a_secret_is_reported(tmp_path, setup):
    (setup / "two.log").write_text("a %s\nb\nc %s and %s\n" % (OTHER, SECRET, quote_plus(OTHER, safe="")))
    rc, output, report = scan(tmp_path, [str(setup)])
    assert rc == 1 and report["hits"] == 3
    assert sorted((f["line"], f["kind"]) for f in report["findings"]) == [(1, "client_secret"), (3, "client_secret"), (3, "password")]


def test_clean_logs_pass_with_the_figures(tmp_path, setup):
    (setup / "other.log").write_text("Zq9 Plnted Secret, nothing else: %s\n" % OTHER[:-3])
    rc, output, report = scan(tmp_path, [str(setup)])
    assert rc == 0
    assert output.strip().splitlines()[-1].startswith("2 secrets of 2 kinds checked against 2 files (")
    assert output.strip().endswith(": 0 hits")
    assert report["secrets"] == 2 and report["kinds"] == {"password": 1, "client_secret": 1}
    assert report["files"] == 2 and report["bytes"] == sum(len(p.read_bytes()) for p in setup.iterdir()) and report["hits"] == 0


def test_the_secret_files_themselves_are_not_scanned(tmp_path, setup):
    rc, output, report = scan(tmp_path, [str(setup), str(tmp_path / "secrets.jsonl")])
    assert rc == 0 and report["files"] == 1


def test_no_records_or_no_logs_is_not_a_pass(tmp_path, setup):
    write_secrets(tmp_path / "empty.jsonl")
    (setup / "leak.log").write_text(SECRET)
    rc, output, report = scan(tmp_path, [str(setup)], secrets=[str(tmp_path / "empty.jsonl")])
    assert rc == 2 and "nothing to check" in output and report["secrets"] == 0
    rc, output, report = scan(tmp_path, [str(tmp_path / "no-such-dir")])
    assert rc == 2 and "no log files" in output and report["files"] == 0


def test_a_cut_record_line_is_skipped_and_counted(tmp_path, setup):
    with open(str(tmp_path / "secrets.jsonl"), "a") as handle:
        handle.write('{"kind": "password", "val')
    (setup / "leak.log").write_text(OTHER)
    rc, output, report = scan(tmp_path, [str(setup)])
    assert rc == 1 and "1 unreadable secret record lines skipped" in output and report["secrets"] == 2


def test_masks_show_at_most_three_characters():
    assert secret_scan.mask("abcdefgh") == "ab***"
    assert secret_scan.mask("abcdefghijklmnop") == "abc***"
