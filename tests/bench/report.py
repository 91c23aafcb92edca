"""The benchmark's results as text: the console summary, docs/performance.md, the targets, the problems."""

import datetime

from tests.bench import metrics

RSS_LIMIT_MB = 250
SPAN_MIN_WRITES = 20  # below this, a rate from the first write to the last says nothing
NAMES = {
    "S1": "S1 onboard the intake",
    "S2": "S2 re-run, nothing changed",
    "S3": "S3 offboard a fifth",
    "S4": "S4 one joiner alone (`--limit`)",
    "S5": "S5 the intake in four AWX slices at once",
}
# The targets of `make bench` (1,000 people, published limits, time scale 1.0, 50 ms per request).
S1_WALL_S = 180
S2_WALL_S = 60
S2_REQUESTS = 20
S3_WALL_S = 60
S4_WALL_S = 8
S5_OF_S1 = 1.3
TASKS_PER_HOST = 2
BASELINE_S1 = 5.0
BASELINE_S2 = 20.0


def command(people, args):
    """The command line that reproduces a run."""
    parts = ["python -m tests.bench", "--people %d" % people]
    if getattr(args, "smoke", False):
        parts.append("--smoke")
    if getattr(args, "time_scale", 1.0) != 1.0:
        parts.append("--time-scale %s" % args.time_scale)
    if getattr(args, "forks", None):
        parts.append("--forks %d" % args.forks)
    if getattr(args, "baseline_people", None):
        parts.append("--baseline-people %d" % args.baseline_people)
    if getattr(args, "no_baseline", False):
        parts.append("--no-baseline")
    if getattr(args, "out", None):
        parts.append("--out %s" % args.out)
    return " ".join(parts)


def problems(results):
    """What makes the run fail: failed hosts, people missing or created twice, a re-run that writes, a crash."""
    out = []
    for group, label in (("scenarios", ""), ("baseline", "baseline ")):
        for name, row in sorted(results.get(group, {}).items()):
            out += ["%s%s: %s" % (label, name, problem) for problem in row["problems"]]
    return out


def per_person_ratio(ours, theirs):
    """How many times less wall time per person ours took than the baseline's (for runs on different numbers of people)."""
    if not ours.get("wall_s") or not theirs.get("people") or not ours.get("people"):
        return None
    return round((theirs["wall_s"] / float(theirs["people"])) / (ours["wall_s"] / float(ours["people"])), 2)


def targets(results):
    """[(target, measured, met: True/False/None)] for the targets of `make bench`. None: not measurable in this run."""
    rows = []
    s = results["scenarios"]
    b = results.get("baseline", {})
    full = results["people"] >= 1000
    if "S1" in s:
        row = s["S1"]
        clean = not row["failed_hosts"] and row.get("unique_upns", True) and not row["problems"]
        rows.append(("S1: %d joiners in %d s or less" % (row["people"], S1_WALL_S), "%.1f s" % row["wall_s"], row["wall_s"] <= S1_WALL_S))
        rows.append(("S1: 0 failures, nobody created twice", "%d failed hosts, %s" % (
            len(row["failed_hosts"]), "nobody created twice" if row.get("unique_upns", True) else "people created twice"), clean))
        if row.get("tasks_per_host") is not None:
            rows.append(("S1: at most %d tasks per host at %d hosts" % (TASKS_PER_HOST, row["people"]), "%d" % row["tasks_per_host"],
                         row["tasks_per_host"] <= TASKS_PER_HOST))
    if "S2" in s:
        row = s["S2"]
        rows.append(("S2: %d s or less" % S2_WALL_S, "%.1f s" % row["wall_s"], row["wall_s"] <= S2_WALL_S))
        rows.append(("S2: at most %d API requests (Graph, Exchange, Practice Protect; Graph's page cap applied)" % S2_REQUESTS,
                     "%d" % row["api_requests"], row["api_requests"] <= S2_REQUESTS))
    if "S3" in s:
        row = s["S3"]
        rows.append(("S3: %d leavers in %d s or less" % (row["people"], S3_WALL_S), "%.1f s" % row["wall_s"], row["wall_s"] <= S3_WALL_S))
    if "S4" in s:
        rows.append(("S4: one joiner with `--limit` in %d s or less" % S4_WALL_S, "%.1f s" % s["S4"]["wall_s"], s["S4"]["wall_s"] <= S4_WALL_S))
    if "S5" in s:
        row = s["S5"]
        clean = not row["failed_hosts"] and row.get("unique_upns", True) and not row["problems"]
        if "S1" in s and s["S1"]["wall_s"]:
            ratio_s1 = row["wall_s"] / s["S1"]["wall_s"]
            rows.append(("S5: four slices within %.1fx of S1's wall time" % S5_OF_S1, "%.1f s = %.2fx of S1 (%.1f s)" % (
                row["wall_s"], ratio_s1, s["S1"]["wall_s"]), ratio_s1 <= S5_OF_S1))
        rows.append(("S5: 0 failures, nobody created twice", "%d failed hosts, %d 429s, %s" % (
            len(row["failed_hosts"]), row["throttled"], "nobody created twice" if row.get("unique_upns", True) else "people created twice"),
            clean))
    peak = max([row["peak_rss_mb"] for row in s.values()] or [0])
    rows.append(("Peak RSS under %d MB at 1,000 people" % RSS_LIMIT_MB, "%.0f MB at %d people" % (peak, results["people"]),
                 peak < RSS_LIMIT_MB if full else None))
    for name, minimum in (("S1", BASELINE_S1), ("S2", BASELINE_S2)):
        goal = "at least %gx faster than the baseline per person" % minimum
        if name not in s or name not in b:
            rows.append(("%s: %s" % (name, goal), "not measured", None))
            continue
        speedup = per_person_ratio(s[name], b[name])
        measured = "%.2fx per person (ours %.1f s for %d, baseline %.1f s for %d)" % (
            speedup, s[name]["wall_s"], s[name]["people"], b[name]["wall_s"], b[name]["people"])
        rows.append(("%s: %s" % (name, goal), measured, speedup >= minimum))
    return rows


def loaded(results):
    """The scenarios (baseline ones prefixed) whose load average at start or end was above the machine's cores."""
    cores = results["machine"]["cpus"]
    out = []
    for group, label in (("scenarios", ""), ("baseline", "baseline ")):
        for name, row in sorted(results.get(group, {}).items()):
            if row.get("loaded", max(row.get("load") or [0.0]) > cores):
                out.append(label + name)
    return out


def loaded_note(results):
    names = loaded(results)
    if not names:
        return "No scenario ran on a loaded machine (every load average at a start or end was at most the %d cores)." % results["machine"]["cpus"]
    whose = "its" if len(names) == 1 else "their"
    return ("**Loaded:** %s ran with a 1-minute load average above the machine's %d cores at its start or end (the scenario "
            "table has the figures), so %s wall time may be inflated. The load counts the benchmark's own ansible-playbook "
            "processes, modules and sandbox as well as any other work." % (", ".join(names), results["machine"]["cpus"], whose))


def _mark(met):
    return "n/a" if met is None else ("met" if met else "**missed**")


def _requests(row):
    r = row["requests"]
    batched = row["batched"]["graph"]
    return "%d (Graph %d%s, Exchange %d, PP %d; login %d)" % (
        row["api_requests"], r["graph"], " + %d in $batch" % batched if batched else "", r["exchange"], r["pp"], r["login"])


def _per_person(row):
    p = row["per_person"]
    return "%.2f / %.2f / %.2f" % (p["graph"], p["exchange"], p["pp"])


def _writes(row):
    w = row["write_rate"]
    if not w["writes"]:
        return "0"
    text = "%d: %.2f/s = %.1f%% of %.0f/s" % (w["writes"], w["per_s"], 100 * w["fraction"], w["ceiling_per_s"])
    if w.get("span_s") and w["writes"] >= SPAN_MIN_WRITES:
        text += " (%.1f/s = %.0f%% from the first write to the last)" % (w["span_per_s"], 100 * w["span_fraction"])
    return text


def _load(row, results):
    """The 1-minute load average at the scenario's start and end, flagged when it was above the machine's cores."""
    load = row.get("load") or [0.0, 0.0]
    text = "%.1f / %.1f" % (load[0], load[1])
    return text + (" **loaded**" if row.get("loaded", max(load) > results["machine"]["cpus"]) else "")


def _split(row):
    """Seconds of the run: startup, tasks that run once for everyone (the modules), per-host tasks."""
    once = sum(t["seconds"] for t in row["tasks"] if t.get("run_once"))
    per_host = sum(t["seconds"] for t in row["tasks"] if not t.get("run_once") and t["name"] != "(outside any task)")
    return row.get("startup_s") or 0.0, once, per_host


def _top(row, count=3, key=None):
    tasks = [t for t in row["tasks"] if t["name"] != "(outside any task)"]
    key = key or (lambda t: t["seconds"])
    return sorted(tasks, key=key, reverse=True)[:count]


def _short(name):
    return name.split(" : ", 1)[-1]


def _task_requests(task):
    parts = []
    for service, label in (("graph", "Graph"), ("exchange", "Exchange"), ("pp", "PP")):
        count = task["requests"][service]
        if count:
            parts.append("%d %s" % (count, label) + (" (+%d batched)" % task["batched"][service] if task["batched"][service] else ""))
    return ", ".join(parts) or "no requests"


def task_table(row):
    """The tasks that made requests, one line each, and the per-host tasks as one line."""
    rows = []
    per_host = [t for t in row["tasks"] if not t.get("run_once") and t["name"] != "(outside any task)"]
    for task in row["tasks"]:
        calls = sum(task["requests"][s] + task["batched"][s] for s in metrics.SERVICES)
        if task in per_host and not calls:
            continue
        if not calls and task["seconds"] < 1.0:
            continue
        rows.append((_short(task["name"]), "%.1f s" % task["seconds"], task["requests"]["graph"] + task["batched"]["graph"],
                     task["requests"]["exchange"], task["requests"]["pp"], task["requests"]["login"],
                     task["writes"]["graph"] + task["writes"]["exchange"] + task["writes"]["pp"]))
    quiet = [t for t in per_host if not sum(t["requests"][s] + t["batched"][s] for s in metrics.SERVICES)]
    if quiet:
        rows.append(("%d other tasks without requests (each person's report, the playbook's checks on localhost)" % len(quiet),
                     "%.1f s" % sum(t["seconds"] for t in quiet), 0, 0, 0, 0, 0))
    return _table(["task", "time", "Graph", "Exchange", "PP", "login", "writes"], rows)


def module_profile(row):
    """The engine's module runs (from its ``module_runs``), grouped by module and mode: a sentence, or "" without them."""
    runs = [run for task in row["tasks"] for run in task.get("module_runs") or []]
    if not runs:
        return ""
    groups = {}
    for run in runs:
        key = "%s%s" % (run["module"], " (check)" if run.get("check") else "")
        count, seconds = groups.get(key, (0, 0.0))
        groups[key] = (count + 1, seconds + run["seconds"])
    shortest = min(run["seconds"] for run in runs)
    parts = ["%s %s%.1f s" % (key, "%dx " % count if count > 1 else "", seconds)
             for key, (count, seconds) in sorted(groups.items(), key=lambda kv: -kv[1][1])]
    return ("The engine ran %d modules one after another, %.1f s in all: %s. The shortest run took %.2f s, about what "
            "starting one module costs (Ansible builds and runs a module process for each)." % (
                len(runs), sum(run["seconds"] for run in runs), "; ".join(parts), shortest))


def limits(name, row, results):
    """Sentences on what limits each number of a scenario, from its measurements."""
    startup, once, per_host = _split(row)
    hosts = sum(1 for t in row["tasks"] if not t.get("run_once"))
    out = []
    slow = _top(row, 3)
    out.append("Wall %.1f s: %.1f s starting ansible-playbook, %.1f s in the %d tasks that run once for everyone (the modules and their "
               "requests), %.1f s in the %d other tasks (each person's report, the playbook's checks on localhost; Ansible's cost: "
               "%.0f ms per host and task). Slowest tasks: %s." % (
                   row["wall_s"], startup, once, sum(1 for t in row["tasks"] if t.get("run_once")), per_host, hosts,
                   1000.0 * per_host / max(1, hosts * max(1, row["people"])),
                   "; ".join("%s %.1f s (%s)" % (_short(t["name"]), t["seconds"], _task_requests(t)) for t in slow)))
    profile = module_profile(row)
    if profile:
        out.append(profile)
    busiest = _top(row, 3, key=lambda t: sum(t["requests"][s] + t["batched"][s] for s in metrics.API_SERVICES))
    busiest = [t for t in busiest if sum(t["requests"][s] + t["batched"][s] for s in metrics.API_SERVICES)]
    if busiest:
        out.append("Requests: %d to the APIs, %.1f per person; most from %s." % (
            row["api_requests"], row["api_requests"] / float(max(1, row["people"])),
            "; ".join("%s (%s)" % (_short(t["name"]), _task_requests(t)) for t in busiest)))
    w = row["write_rate"]
    if w["writes"]:
        writer = _top(row, 1, key=lambda t: t["writes"]["graph"] + 0.0)[0]
        inside = writer["writes"]["graph"] / writer["seconds"] if writer["seconds"] else 0.0
        text = ("Graph writes: %d in %.1f s is %.2f/s against a ceiling of %.1f/s; %s sent %d of them in %.1f s (%.1f/s inside that "
                "task). " % (w["writes"], row["wall_s"], w["per_s"], w["ceiling_per_s"], _short(writer["name"]), writer["writes"]["graph"],
                             writer["seconds"], inside))
        if w["writes"] < w["burst"]:
            text += ("The write bucket starts full (%d writes), so a run of %d writes is never write-throttled: the rate is set by how "
                     "fast the run sends its writes, and by the time it spends on everything else." % (w["burst"], w["writes"]))
        else:
            text += ("The write bucket starts full (%d writes) and refills at the ceiling; past it, the throttle sets the pace." % w["burst"])
        out.append(text)
    if row["throttled"]:
        by = row.get("throttled_by") or {}
        where = ", ".join("%s %d" % (label, by[service]) for service, label in (
            ("graph", "Graph"), ("exchange", "Exchange (the tenant's concurrency answer)"), ("pp", "Practice Protect")) if by.get(service))
        outcome = "every one was retried (no host failed because of them)." if not row["failed_hosts"] else \
            "%d hosts failed." % len(row["failed_hosts"])
        out.append("429s: %d%s; %s" % (row["throttled"], " (%s)" % where if where else "", outcome))
    else:
        out.append("429s: none; the run stayed under both Graph budgets (writes and resource units).")
    out.append("Peak RSS: %.0f MB in %s (the whole tree peaked at %.0f MB). CPU: ansible %.0f s, sandbox %.0f s, over %.1f s wall on %d CPUs "
               "(load %.1f before, %.1f after)." % (
                   row["peak_rss_mb"], row["peak_process"], row["peak_tree_mb"], row["ansible_cpu_s"], row["sandbox_cpu_s"], row["wall_s"],
                   results["machine"]["cpus"], row["load"][0], row["load"][1]))
    return out


def console(results):
    """A plain-text summary for the terminal."""
    lines = ["%d people, %d leavers, throttling at the published limits x time scale %s, %d ms latency, %d forks" % (
        results["people"], results["leavers"], results["time_scale"], results["latency_ms"], results["forks"])]
    for group, label in (("scenarios", ""), ("baseline", "baseline ")):
        for name, row in sorted(results.get(group, {}).items()):
            lines.append("%-12s wall %7.1f s  requests %s  per person %s  writes %s  429s %d  failed %d  peak RSS %.0f MB" % (
                label + name, row["wall_s"], _requests(row), _per_person(row), _writes(row), row["throttled"], len(row["failed_hosts"]),
                row["peak_rss_mb"]))
    if not results.get("smoke"):
        lines.append("")
        for target, measured, met in targets(results):
            lines.append("%-9s %s: %s" % (_mark(met).replace("*", ""), target, measured))
        lines.append(loaded_note(results).replace("**", ""))
    return "\n".join(lines)


def _table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(out)


def markdown(results):
    """docs/performance.md."""
    m = results["machine"]
    s = results["scenarios"]
    b = results.get("baseline", {})
    throttle = results.get("throttle", {})
    ceiling = metrics.write_ceiling(throttle) if throttle else 20.0
    lines = [
        "# Performance",
        "",
        "Measured by the benchmark (`tests/bench/`, `make bench`) on %s. The numbers below are this machine's; "
        "run the command under [Reproduce](#reproduce) to measure yours." % results.get("date", datetime.date.today().isoformat()),
        "",
        "Setup: the sandbox (`tests/sandbox`) with Graph throttling on at the published limits per app and tenant (3,000 writes per "
        "150 s, resource units per 10 s by tenant size), **time scale %s** (%s), **%d ms of latency added to every request** of every "
        "service, and licence seats for everyone. The inventory has one host per person (`ansible_connection: local`): %d "
        "`entra_source` joiners, each with a user, the licence %s, two aliases, a Practice Protect invitation and one Practice "
        "Protect role. Ansible runs with %d forks and a token cache (`M365_TOKEN_CACHE_PATH`)." % (
            results["time_scale"], "the published windows unchanged" if results["time_scale"] == 1.0 else
            "the windows multiplied by it, so the ceiling is %.1f writes/s" % ceiling, results["latency_ms"], results["people"],
            "`O365_BUSINESS_PREMIUM`", results["forks"]),
        "",
        "- **S1** onboards the %d joiners with `playbooks/onboard.yml`; **S2** runs it again when nothing has changed; **S3** "
        "offboards %d of them with `playbooks/offboard.yml`; **S4** onboards one more joiner alone with `--limit` over the whole "
        "inventory (the AWX survey case; mailbox provisioning is instant in the bench, so no provisioning wait is counted); **S5** "
        "onboards the same %d joiners into a fresh tenant as an AWX job sliced in four: four `ansible-playbook` processes at once, "
        "each with `--limit` on every fourth host, against one sandbox tenant whose throttling (per app and tenant) they share." % (
            results["people"], results["leavers"], results["people"]),
        "- The **baseline** (`tests/bench/baseline/onboard.yml`) does the work of S1 and S2 the way teams write it by hand: "
        "`ansible.builtin.uri`, one call per step per person (read the user, create it, assign the licence, Exchange `Set-Mailbox` "
        "for the aliases, look the user up in Practice Protect, find it in the Azure AD directory, invite it, add it to the role), "
        "tokens and lookups once per play, a read before each write so that a re-run writes nothing, 429s retried with "
        "`until`/`retries`, the default 5 forks. It runs against a fresh sandbox with the same knobs%s." % (
            "" if results.get("baseline_people", results["people"]) == results["people"] else
            ", on %d people" % results.get("baseline_people", 0)),
        "",
        "## Against the targets",
        "",
    ]
    if results["people"] < 1000:
        per_person = s["S1"]["wall_s"] / float(results["people"]) if "S1" in s else 0.0
        lines += [
            "This run has %d people, not the 1,000 of `make bench`. The targets are judged on this run's numbers; the memory "
            "target, stated at 1,000 people, is not judged.%s" % (
                results["people"],
                (" At this run's cost per person (%.2f s of S1 wall per joiner), S1 alone would take about %.0f minutes at 1,000 "
                 "people (a linear extrapolation, not a measurement)." % (per_person, per_person * 1000 / 60.0)) if per_person else ""),
            "",
        ]
    lines += [
        _table(["target", "measured", ""], [(t, measured, _mark(met)) for t, measured, met in targets(results)]),
        "",
        loaded_note(results),
        "",
        "## Scenarios",
        "",
        "Requests are HTTP requests seen by the sandbox (a `$batch` counts once; its sub-requests are shown after `+`). Per person: "
        "Graph / Exchange / Practice Protect. Writes: Graph writes let through, per second of wall time, as a fraction of the "
        "sustained ceiling (%.0f writes/s here). Load: the machine's 1-minute load average when the scenario started and when it "
        "ended; **loaded** marks a scenario that ran with more load than the machine's %d cores, whose wall time carries that "
        "noise." % (ceiling, m["cpus"]),
        "",
    ]
    rows = []
    for group, label in (("scenarios", ""), ("baseline", "baseline ")):
        for name in sorted(results.get(group, {})):
            row = results[group][name]
            title = NAMES.get(name, name)
            rows.append((label + title, row["people"], "%.1f s" % row["wall_s"], _requests(row), _per_person(row), _writes(row),
                         row["throttled"], len(row["failed_hosts"]), "no" if row.get("unique_upns", True) else "**yes**",
                         "%.0f MB" % row["peak_rss_mb"], _load(row, results)))
    lines.append(_table(["scenario", "people", "wall", "API requests", "per person", "Graph writes", "429s", "failed hosts",
                         "created twice", "peak RSS", "load at start / end"], rows))
    lines += ["", "## Against the baseline", ""]
    comparison = []
    for name in ("S1", "S2"):
        if name in s and name in b:
            comparison.append((NAMES[name], "%.1f s (%d people)" % (s[name]["wall_s"], s[name]["people"]),
                               "%.1f s (%d people)" % (b[name]["wall_s"], b[name]["people"]),
                               "%.3f s / %.3f s" % (s[name]["wall_s"] / s[name]["people"], b[name]["wall_s"] / b[name]["people"]),
                               "%.2fx" % per_person_ratio(s[name], b[name]),
                               "%.2f / %.2f" % (s[name]["api_requests"] / float(s[name]["people"]), b[name]["api_requests"] / float(b[name]["people"]))))
    if comparison:
        lines.append(_table(["scenario", "ours", "baseline", "wall per person (ours / baseline)", "speed-up per person",
                             "API requests per person (ours / baseline)"], comparison))
    else:
        lines.append("The baseline did not run.")
    lines += ["", "## Where the time and the requests go", "",
              "Per task of S1 and S2 (from the `bench_timer` callback and the sandbox's request log): the tasks that run once for "
              "everyone and make requests, then the tasks that run on every host, summed.", ""]
    for name in ("S1", "S2"):
        if name in s:
            lines += ["**%s**" % NAMES[name], "", task_table(s[name]), ""]
    lines += ["## What limits each number", ""]
    for group, label in (("scenarios", ""), ("baseline", "Baseline ")):
        for name in sorted(results.get(group, {})):
            lines.append("**%s%s.** %s" % (label, NAMES.get(name, name), " ".join(limits(name, results[group][name], results))))
            lines.append("")
    lines += [
        "## Machine",
        "",
        "- CPU: %d x %s; memory %.1f GB; %s" % (m["cpus"], m["cpu_model"], m["memory_gb"], m["system"]),
        "- Python %s, ansible-core %s; the collection at %s" % (m["python"], m["ansible_core"], m.get("revision", "an unknown revision")),
        "- Load average (1 min) %.2f at the start and %.2f at the end%s." % (
            m["load_start"][0], m.get("load_end", m["load_start"])[0],
            " of the whole benchmark (each scenario's are in the scenario table)"),
        "- The whole benchmark took %.0f s." % results.get("total_wall_s", 0),
        "",
        "## Reproduce",
        "",
        "This report came from:",
        "",
        "```sh",
        "make setup    # the .venv and the collection link the playbooks need",
        ". .venv/bin/activate",
        results["command"],
        "```",
        "",
        "`make bench` runs it with 1,000 people and writes this file. `python -m tests.bench --help` lists the options (`--people`, "
        "`--time-scale`, `--forks`, `--no-baseline`, `--baseline-people`, `--keep` to keep each run's output and per-task timings). "
        "`make bench-smoke` (part of `make test`) runs 50 people (the baseline on 5) with no timing targets and fails only on failed "
        "hosts, people missing or created twice, a re-run that writes, or a crash.",
        "",
    ]
    return "\n".join(lines)
