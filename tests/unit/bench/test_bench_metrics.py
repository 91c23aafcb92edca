"""tests/bench/metrics.py: counting the sandbox's request log, write rates, the recap, duplicates, requests per task."""

import pytest

from tests.bench import metrics


def entry(service, method="GET", status=200, write=False, batch=None, time="2025-01-01T00:00:00.000+00:00", seq=1):
    return {"seq": seq, "time": time, "service": service, "method": method, "path": "/x", "status": status, "write": write, "batch": batch}


def at(second):
    return "2025-01-01T00:00:%06.3f+00:00" % second


EPOCH = 1735689600.0  # 2025-01-01T00:00:00Z


def test_counts_http_requests_batched_items_writes_429s_and_errors_per_service():
    entries = [
        entry("login", "POST"),
        entry("graph", "POST", 200, write=False, seq=2),                  # the $batch itself: one HTTP request, no write
        entry("graph", "POST", 201, write=True, batch=2, seq=3),          # a batched create: a write, not an HTTP request
        entry("graph", "POST", 429, write=True, batch=2, seq=4),          # a batched item throttled: no write
        entry("graph", "PATCH", 204, write=True, seq=5),
        entry("graph", "GET", 429, seq=6),
        entry("exchange", "POST", 200, write=True, seq=7),
        entry("exchange", "POST", 200, write=False, seq=8),               # Get-Mailbox: a POST that reads
        entry("pp", "POST", 200, write=True, seq=9),
        entry("pp", "POST", 503, write=True, seq=10),                     # a failed write is an error, not a write
        entry("pp", "POST", None, write=True, seq=11),                    # a dropped connection
    ]
    counts = metrics.count_requests(entries)
    assert counts["graph"] == {"requests": 3, "batched": 2, "writes": 2, "throttled": 2, "errors": 0}
    assert counts["exchange"] == {"requests": 2, "batched": 0, "writes": 1, "throttled": 0, "errors": 0}
    assert counts["pp"] == {"requests": 3, "batched": 0, "writes": 1, "throttled": 0, "errors": 2}
    assert counts["login"]["requests"] == 1
    assert metrics.total(counts) == 8                       # Graph, Exchange and PP HTTP requests; login apart
    assert metrics.total(counts, services=metrics.SERVICES) == 9
    assert metrics.total(counts, "throttled", metrics.SERVICES) == 2


def test_requests_per_person_per_service():
    counts = metrics.count_requests([entry("graph")] * 5 + [entry("pp")] * 2)
    assert metrics.per_person(counts, 2) == {"graph": 2.5, "exchange": 0.0, "pp": 1.0, "login": 0.0}
    assert metrics.per_person(counts, 0)["graph"] == 5.0   # no division by zero


def test_write_ceiling_is_the_published_rate_scaled_by_the_time_scale():
    assert metrics.write_ceiling({"write_limit": 3000, "write_window_s": 150, "time_scale": 1.0}) == 20.0
    assert metrics.write_ceiling({"write_limit": 3000, "write_window_s": 150, "time_scale": 0.1}) == pytest.approx(200.0)
    assert metrics.write_ceiling({}) == 20.0


def test_write_rate_over_the_wall_time_and_over_the_span_of_the_writes():
    writes = [entry("graph", "POST", 201, write=True, time=at(10 + i * 0.5), seq=i) for i in range(11)]  # 11 writes in 5 s
    noise = [entry("graph", "POST", 429, write=True, time=at(30)), entry("graph", "GET", 200, time=at(40)),
             entry("exchange", "POST", 200, write=True, time=at(12))]
    rate = metrics.write_rate(writes + noise, 22.0, {"write_limit": 3000, "write_window_s": 150, "time_scale": 1.0})
    assert rate["writes"] == 11
    assert rate["per_s"] == 0.5 and rate["fraction"] == 0.025
    assert rate["span_s"] == 5.0 and rate["span_per_s"] == 2.2 and rate["span_fraction"] == 0.11
    assert rate["ceiling_per_s"] == 20.0 and rate["burst"] == 3000


def test_write_rate_without_writes():
    rate = metrics.write_rate([entry("graph")], 10.0, {"write_limit": 3000, "write_window_s": 150, "time_scale": 0.5})
    assert (rate["writes"], rate["per_s"], rate["fraction"], rate["span_s"]) == (0, 0.0, 0.0, 0.0)
    assert rate["ceiling_per_s"] == 40.0


RECAP = """
TASK [x] ***
ok: [joiner0001]
fatal: [joiner0002]: FAILED! => {"msg": "ok=3 changed=1 is not a recap line"}

PLAY RECAP *********************************************************************
joiner0001                 : ok=12   changed=4    unreachable=0    failed=0    skipped=9    rescued=0    ignored=0
joiner0002                 : ok=3    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
survey.joiner              : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_parse_recap_and_failed_hosts():
    recap = metrics.parse_recap(RECAP)
    assert set(recap) == {"joiner0001", "joiner0002", "survey.joiner"}
    assert recap["joiner0001"] == {"ok": 12, "changed": 4, "unreachable": 0, "failed": 0, "skipped": 9, "rescued": 0, "ignored": 0}
    assert metrics.failed_hosts(recap) == ["joiner0002", "survey.joiner"]
    assert metrics.parse_recap("no recap here\njoiner0001 : ok=1 changed=0 unreachable=0 failed=0") == {}


def test_duplicates_and_missing_ignore_case():
    assert metrics.duplicates(["a@x", "B@x", "A@X", "b@x", "c@x"]) == ["a@x", "b@x"]
    assert metrics.duplicates(["a@x", "b@x"]) == []
    assert metrics.missing(["A@x", "b@x", "c@x"], ["a@X", "c@x"]) == ["b@x"]


def test_by_task_puts_each_request_in_the_task_running_when_it_was_logged():
    tasks = [{"name": "plan", "action": "m365_user", "start": EPOCH + 1, "end": EPOCH + 3, "run_once": True},
             {"name": "report", "action": "debug", "start": EPOCH + 3, "end": EPOCH + 4, "run_once": False}]
    entries = [entry("graph", time=at(1.5)), entry("graph", "POST", 201, write=True, batch=1, time=at(2.0)),
               entry("pp", "POST", 200, write=True, time=at(3.5)), entry("login", "POST", time=at(0.5)), entry("exchange", time=at(9))]
    rows = metrics.by_task(entries, tasks)
    assert [row["name"] for row in rows] == ["plan", "report", "(outside any task)"]
    assert rows[0]["seconds"] == 2.0
    assert rows[0]["requests"]["graph"] == 1 and rows[0]["batched"]["graph"] == 1 and rows[0]["writes"]["graph"] == 1
    assert rows[1]["requests"]["pp"] == 1 and rows[1]["writes"]["pp"] == 1
    assert rows[2]["requests"]["login"] == 1 and rows[2]["requests"]["exchange"] == 1
    # Nothing outside the tasks: no extra row.
    assert [row["name"] for row in metrics.by_task(entries[:2], tasks)] == ["plan", "report"]


def test_tasks_per_host_counts_the_engine_and_the_tasks_every_host_ran():
    tasks = [{"name": "Refuse an inventory without hosts", "run_once": False, "ok": 1},  # the localhost play
             {"name": "role : Onboard everyone", "run_once": True, "ok": 1},
             {"name": "role : Report the joiner", "run_once": False, "ok": 990, "failed": 10},
             {"name": "role : Skipped for most", "run_once": False, "ok": 3},
             {"name": "(outside any task)", "run_once": False}]
    assert metrics.tasks_per_host(tasks, 1000) == 2
    tasks.append({"name": "role : Another per-host step", "run_once": False, "skipped": 1000})
    assert metrics.tasks_per_host(tasks, 1000) == 3
    assert metrics.tasks_per_host(tasks, 1) is None
