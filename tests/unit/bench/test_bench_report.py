"""tests/bench/report.py: the targets of `make bench`, the problems that fail a run, docs/performance.md."""

import copy

from tests.bench import report


def row(people, wall, api=10, writes=0, rate=0.0, fraction=0.0, failed=(), problems=(), rss=100.0, unique=True):
    services = ("graph", "exchange", "pp", "login")
    return {
        "people": people, "wall_s": wall, "api_requests": api, "requests": dict((s, api if s == "graph" else 0) for s in services),
        "batched": dict((s, 0) for s in services), "writes": dict((s, 0) for s in services),
        "per_person": dict((s, round(api / float(people), 2) if s == "graph" else 0.0) for s in services),
        "write_rate": {"writes": writes, "per_s": rate, "fraction": fraction, "ceiling_per_s": 20.0, "burst": 3000, "span_s": 0.0,
                       "span_per_s": 0.0, "span_fraction": 0.0},
        "throttled": 0, "failed_hosts": list(failed), "problems": list(problems), "peak_rss_mb": rss, "peak_process": "ansible-playbook",
        "peak_tree_mb": rss + 50, "ansible_cpu_s": wall, "sandbox_cpu_s": 1.0, "load": [1.0, 2.0], "startup_s": 1.0, "unique_upns": unique,
        "tasks_per_host": 2 if people > 1 else None,
        "tasks": [{"name": "role : Users", "action": "m365_user", "run_once": True, "seconds": wall / 2.0,
                   "requests": {"graph": api, "exchange": 0, "pp": 0, "login": 1}, "batched": {"graph": 0, "exchange": 0, "pp": 0, "login": 0},
                   "writes": {"graph": writes, "exchange": 0, "pp": 0, "login": 0}},
                  {"name": "role : Report", "action": "debug", "run_once": False, "seconds": wall / 2.0 - 1.0,
                   "requests": {"graph": 0, "exchange": 0, "pp": 0, "login": 0}, "batched": {"graph": 0, "exchange": 0, "pp": 0, "login": 0},
                   "writes": {"graph": 0, "exchange": 0, "pp": 0, "login": 0}}],
    }


def results(people=1000):
    return {
        "people": people, "leavers": people // 5, "time_scale": 1.0, "latency_ms": 50, "forks": 5, "baseline_people": people,
        "date": "2025-01-01", "total_wall_s": 900.0, "command": "python -m tests.bench --people %d --out docs/performance.md" % people,
        "throttle": {"write_limit": 3000, "write_window_s": 150, "time_scale": 1.0},
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "system": "Linux", "python": "3.11.7", "ansible_core": "2.19.0",
                    "revision": "abc1234",
                    "load_start": [1.0, 1.0, 1.0], "load_end": [2.0, 2.0, 2.0]},
        "scenarios": {"S1": row(people, 150.0, api=2100, writes=2000, rate=13.33, fraction=0.6667), "S2": row(people, 30.0, api=12),
                      "S3": row(people // 5, 40.0, api=800, writes=400, rate=10.0, fraction=0.5), "S4": row(1, 7.5, api=30, writes=2),
                      "S5": row(people, 180.0, api=2200, writes=2000)},
        "baseline": {"S1": row(people, 600.0, api=8000, writes=2000), "S2": row(people, 900.0, api=2000)},
    }


def test_targets_met_and_missed():
    by_name = dict((target, (measured, met)) for target, measured, met in report.targets(results()))
    assert by_name["S1: 1000 joiners in 180 s or less"] == ("150.0 s", True)
    assert by_name["S1: 0 failures, nobody created twice"] == ("0 failed hosts, nobody created twice", True)
    assert by_name["S1: at most 2 tasks per host at 1000 hosts"] == ("2", True)
    assert by_name["S2: at most 20 API requests (Graph, Exchange, Practice Protect; Graph's page cap applied)"] == ("12", True)
    assert by_name["S2: 60 s or less"] == ("30.0 s", True)
    assert by_name["S3: 200 leavers in 60 s or less"] == ("40.0 s", True)
    assert by_name["S4: one joiner with `--limit` in 8 s or less"] == ("7.5 s", True)
    assert by_name["S5: four slices within 1.3x of S1's wall time"] == ("180.0 s = 1.20x of S1 (150.0 s)", True)
    assert by_name["S5: 0 failures, nobody created twice"] == ("0 failed hosts, 0 429s, nobody created twice", True)
    assert by_name["Peak RSS under 250 MB at 1,000 people"] == ("100 MB at 1000 people", True)
    assert by_name["S1: at least 5x faster than the baseline per person"] == (
        "4.00x per person (ours 150.0 s for 1000, baseline 600.0 s for 1000)", False)
    assert by_name["S2: at least 20x faster than the baseline per person"] == (
        "30.00x per person (ours 30.0 s for 1000, baseline 900.0 s for 1000)", True)
    slow = results()
    slow["scenarios"]["S2"] = row(1000, 61.0, api=21)
    slow["scenarios"]["S1"]["failed_hosts"] = ["joiner0001"]
    slow["scenarios"]["S1"]["tasks_per_host"] = 3
    slow["scenarios"]["S5"]["wall_s"] = 200.0
    slow["scenarios"]["S3"]["loaded"] = True
    by_name = dict((target, (measured, met)) for target, measured, met in report.targets(slow))
    assert by_name["S2: at most 20 API requests (Graph, Exchange, Practice Protect; Graph's page cap applied)"] == ("21", False)
    assert by_name["S2: 60 s or less"] == ("61.0 s", False)
    assert by_name["S1: 0 failures, nobody created twice"][1] is False
    assert by_name["S1: at most 2 tasks per host at 1000 hosts"] == ("3", False)
    assert by_name["S5: four slices within 1.3x of S1's wall time"] == ("200.0 s = 1.33x of S1 (150.0 s)", False)
    assert report.loaded(slow) == ["S3"]
    assert report.loaded(results()) == []
    assert "**Loaded:** S3 ran with a 1-minute load average above the machine's 2 cores" in report.markdown(slow)
    assert "No scenario ran on a loaded machine" in report.markdown(results())


def test_targets_that_this_run_cannot_judge():
    small = results(200)
    by_name = dict((target, met) for target, _, met in report.targets(small))
    assert by_name["Peak RSS under 250 MB at 1,000 people"] is None      # only judged at 1,000 people
    partial = results(200)
    partial["baseline_people"] = 5
    partial["baseline"]["S1"].update(people=5, wall_s=30.0)  # 6 s a person against ours 150 s / 200 = 0.75 s
    by_name = dict((target, (measured, met)) for target, measured, met in report.targets(partial))
    assert by_name["S1: at least 5x faster than the baseline per person"] == ("8.00x per person (ours 150.0 s for 200, baseline 30.0 s for 5)", True)
    del partial["baseline"]
    by_name = dict((target, (measured, met)) for target, measured, met in report.targets(partial))
    assert by_name["S2: at least 20x faster than the baseline per person"] == ("not measured", None)


def test_problems_fail_the_run_and_timing_does_not():
    assert report.problems(results()) == []  # a missed timing target is not a problem
    broken = results()
    broken["scenarios"]["S1"]["problems"].append("failed hosts: 1 (joiner0001)")
    broken["baseline"]["S2"]["problems"].append("the re-run wrote 3 times")
    assert report.problems(broken) == ["S1: failed hosts: 1 (joiner0001)", "baseline S2: the re-run wrote 3 times"]


def test_markdown_has_the_table_the_baseline_the_machine_and_the_command():
    text = report.markdown(results())
    assert text.startswith("# Performance\n")
    assert "| S1: at least 5x faster than the baseline per person | 4.00x per person (ours 150.0 s for 1000, baseline 600.0 s for 1000) | **missed** |" in text
    assert "| S2: 60 s or less | 30.0 s | met |" in text
    assert "| S5 the intake in four AWX slices at once | 1000 | 180.0 s |" in text
    assert "| 0 | 0 | no | 100 MB | 1.0 / 2.0 |" in text  # the load at the start and end, not flagged
    loaded = results()
    loaded["scenarios"]["S3"]["loaded"] = True
    assert "| 1.0 / 2.0 **loaded** |" in report.markdown(loaded)
    assert "| S1 onboard the intake | 150.0 s (1000 people) | 600.0 s (1000 people) | 0.150 s / 0.600 s | 4.00x | 2.10 / 8.00 |" in text
    assert "2 x Test CPU" in text and "Python 3.11.7, ansible-core 2.19.0; the collection at abc1234" in text
    assert "\npython -m tests.bench --people 1000 --out docs/performance.md\n```" in text
    assert "This run has" not in text  # 1,000 people: no note about a smaller run
    assert "| S1 onboard the intake | 1000 | 150.0 s |" in text
    assert "2000: 13.33/s = 66.7% of 20/s" in text
    assert "| Users | 75.0 s | 2100 | 0 | 0 | 1 | 2000 |" in text  # the per-task table of S1
    assert "| 1 other tasks without requests (each person's report, the playbook's checks on localhost) | 74.0 s |" in text
    smaller = report.markdown(results(200))
    assert "This run has 200 people, not the 1,000 of `make bench`." in smaller
    assert "S1 alone would take about 12 minutes at 1,000 people (a linear extrapolation, not a measurement)" in smaller
    assert "**time scale 1.0** (the published windows unchanged)" in text
    assert "**S2 re-run, nothing changed.** Wall 30.0 s" in text
    assert "never write-throttled" in text


def test_console_summary_lists_every_run():
    text = report.console(results())
    for label in ("S1", "S2", "S3", "S4", "S5", "baseline S1", "baseline S2"):
        assert "\n" + label + " " in "\n" + text
    smoke = copy.deepcopy(results(50))
    smoke["smoke"] = True
    assert "missed" not in report.console(smoke)


def test_the_engines_module_runs_say_where_its_time_went():
    one = row(1, 7.5)
    one["tasks"][0]["module_runs"] = [{"module": "m365_user", "check": True, "seconds": 0.9}, {"module": "m365_user", "check": False, "seconds": 1.4},
                                      {"module": "m365_user", "check": True, "seconds": 1.0}, {"module": "pp_user", "check": False, "seconds": 0.7}]
    assert report.module_profile(one) == (
        "The engine ran 4 modules one after another, 4.0 s in all: m365_user (check) 2x 1.9 s; m365_user 1.4 s; pp_user 0.7 s. The shortest run "
        "took 0.70 s, about what starting one module costs (Ansible builds and runs a module process for each).")
    assert report.module_profile(row(1, 7.5)) == ""
    full = results()
    full["scenarios"]["S4"] = one
    assert "**S4 one joiner alone (`--limit`).** Wall 7.5 s" in report.markdown(full) and "The engine ran 4 modules" in report.markdown(full)


def test_429s_are_named_by_service():
    sliced = results()
    sliced["scenarios"]["S5"].update(throttled=34, throttled_by={"graph": 0, "exchange": 34, "pp": 0, "login": 0})
    assert "429s: 34 (Exchange (the tenant's concurrency answer) 34); every one was retried" in report.markdown(sliced)
