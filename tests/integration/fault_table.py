# -*- coding: utf-8 -*-
"""The fault suite's table: fault, runs, converged, duplicates, lost.

Each test of tests/integration/test_fault_suite.py records its row with ``record()`` into
tests/output/reliability/faults/<fault>.json (pytest-xdist workers are separate processes, so each row is its own
file); ``pytest_terminal_summary`` (imported into tests/integration/conftest.py) gathers the rows at the end of the
run, prints the table and writes tests/output/reliability/faults.json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELIABILITY = os.path.join(ROOT, "tests", "output", "reliability")
ROWS = os.path.join(RELIABILITY, "faults")
SUMMARY = os.path.join(RELIABILITY, "faults.json")
COLUMNS = ("fault", "runs", "converged", "duplicates", "lost")
STARTED = "_fault_table_started"


def _file_name(fault):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", fault).strip("_") or "fault"


def row(fault, runs, converged, duplicates, lost, **details):
    """A table row. runs: playbook runs made under the fault; converged: those that ended (with the re-runs they needed)
    in the wanted tenant; duplicates / lost: objects created twice / missing or damaged in the final state."""
    if not isinstance(fault, str) or not fault:
        raise ValueError("fault must be a non-empty string")
    counts = {"runs": runs, "converged": converged, "duplicates": duplicates, "lost": lost}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("%s must be a whole number >= 0, not %r" % (key, value))
    if converged > runs:
        raise ValueError("converged (%d) cannot exceed runs (%d)" % (converged, runs))
    out = {"fault": fault}
    out.update(counts)
    out["details"] = details
    out["recorded"] = time.time()
    return out


def record(fault, runs, converged, duplicates, lost, directory=ROWS, **details):
    """Write one fault's row to <directory>/<fault>.json (the latest run of that fault wins); returns the row."""
    entry = row(fault, runs, converged, duplicates, lost, **details)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, _file_name(fault) + ".json")
    tmp = path + ".%d.tmp" % os.getpid()
    with open(tmp, "w") as handle:
        json.dump(entry, handle, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)
    return entry


def load(directory=ROWS):
    """Every recorded row, sorted by fault; unreadable files are skipped."""
    rows = []
    if not os.path.isdir(directory):
        return rows
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name)) as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and all(key in entry for key in COLUMNS):
            rows.append(entry)
    return sorted(rows, key=lambda entry: entry["fault"])


def totals(rows):
    out = {"fault": "total"}
    for key in COLUMNS[1:]:
        out[key] = sum(int(entry[key]) for entry in rows)
    return out


def render(rows):
    """The table as text lines: a header, one line per fault, a total line."""
    lines_of = [[str(entry[key]) for key in COLUMNS] for entry in list(rows) + [totals(rows)]]
    widths = [max([len(name)] + [len(line[i]) for line in lines_of]) for i, name in enumerate(COLUMNS)]

    def fmt(cells):
        return "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))

    out = [fmt(COLUMNS), "  ".join("-" * width for width in widths)]
    out.extend(fmt(line) for line in lines_of[:-1])
    out.append("  ".join("-" * width for width in widths))
    out.append(fmt(lines_of[-1]))
    return out


def summary(rows):
    """What faults.json holds: the rows (without their details' bulk) and the totals."""
    return {"columns": list(COLUMNS), "faults": [dict((key, entry[key]) for key in COLUMNS + ("details",) if key in entry) for entry in rows],
            "total": totals(rows)}


def write_summary(rows, path=SUMMARY):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(summary(rows), handle, indent=1, sort_keys=True, default=str)


def pytest_sessionstart(session):
    setattr(session.config, STARTED, time.time())


def report(terminalreporter, config, directory=ROWS, path=SUMMARY):
    """Print the table when this pytest run recorded a fault row (the rows of the other faults are those of their last
    run), and write faults.json. Returns the rows printed (none: nothing printed)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller prints
        return []
    rows = load(directory)
    started = getattr(config, STARTED, None)
    if not rows or (started is not None and not any(entry.get("recorded", 0) >= started for entry in rows)):
        return []
    write_summary(rows, path)
    terminalreporter.write_sep("=", "fault suite: fault, runs, converged, duplicates, lost")
    for line in render(rows):
        terminalreporter.write_line(line)
    terminalreporter.write_line("written to %s" % os.path.relpath(path, ROOT))
    return rows


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report(terminalreporter, config)
