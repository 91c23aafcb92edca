"""Pure measurements over the sandbox's request log, the throttle config and ansible-playbook's recap.

Log entries are the sandbox's (``GET /_sandbox/log``): ``seq, time, service, method, path, status, write, batch, ...``.
An entry with ``batch`` set is a sub-request of a Graph ``$batch`` (the parent is the HTTP request); the others are
HTTP requests. Graph's write budget counts every write, batched or not, that the throttle let through.
"""

import bisect
import datetime
import re

SERVICES = ("graph", "exchange", "pp", "login")
API_SERVICES = ("graph", "exchange", "pp")


def _empty():
    return {"requests": 0, "batched": 0, "writes": 0, "throttled": 0, "errors": 0}


def count_requests(entries):
    """Per service: HTTP ``requests``, ``batched`` sub-requests, accepted ``writes`` (HTTP or batched, not 429),
    ``throttled`` answers (429, HTTP or batched) and other ``errors`` (status 500 and above, or a dropped connection)."""
    counts = dict((service, _empty()) for service in SERVICES)
    for entry in entries:
        service = entry.get("service")
        if service not in counts:
            counts[service] = _empty()
        bucket = counts[service]
        if entry.get("batch") is None:
            bucket["requests"] += 1
        else:
            bucket["batched"] += 1
        status = entry.get("status")
        if status == 429:
            bucket["throttled"] += 1
        elif status is None or status >= 500:
            bucket["errors"] += 1
        elif entry.get("write"):
            bucket["writes"] += 1
    return counts


def total(counts, key="requests", services=API_SERVICES):
    return sum(counts.get(service, {}).get(key, 0) for service in services)


def per_person(counts, people, key="requests"):
    """``{service: counts[service][key] / people}``, rounded to two places."""
    people = max(1, people)
    return dict((service, round(values.get(key, 0) / float(people), 2)) for service, values in counts.items())


def write_ceiling(throttle):
    """Graph's sustained write rate per app and tenant under a throttle config: write_limit / (window x time_scale)."""
    window = float(throttle.get("write_window_s", 150)) * float(throttle.get("time_scale", 1.0))
    return float(throttle.get("write_limit", 3000)) / window


def _when(entry):
    return datetime.datetime.fromisoformat(entry["time"]).timestamp()


def graph_writes(entries):
    """Graph writes the throttle let through (HTTP or batched; neither 429 nor a sandbox failure)."""
    return [e for e in entries if e.get("service") == "graph" and e.get("write") and e.get("status") is not None
            and e["status"] != 429 and e["status"] < 500]


def write_rate(entries, wall_s, throttle):
    """Graph writes per second over the scenario's wall time, and over the span from its first to its last write,
    each with its fraction of the sustained ceiling. The write bucket starts full (``write_limit`` writes may go at once),
    so a run of fewer writes than that is never write-throttled and a fraction above 1 is possible."""
    writes = graph_writes(entries)
    ceiling = write_ceiling(throttle)
    out = {"writes": len(writes), "ceiling_per_s": round(ceiling, 3), "per_s": 0.0, "fraction": 0.0, "span_s": 0.0,
           "span_per_s": 0.0, "span_fraction": 0.0, "burst": int(throttle.get("write_limit", 3000))}
    if writes and wall_s > 0:
        out["per_s"] = round(len(writes) / float(wall_s), 3)
        out["fraction"] = round(out["per_s"] / ceiling, 4)
    if len(writes) > 1:
        stamps = sorted(_when(e) for e in writes)
        span = stamps[-1] - stamps[0]
        if span > 0:
            out["span_s"] = round(span, 3)
            out["span_per_s"] = round(len(writes) / span, 3)
            out["span_fraction"] = round(out["span_per_s"] / ceiling, 4)
    return out


RECAP_RE = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                      r"failed=(?P<failed>\d+)(?:\s+skipped=(?P<skipped>\d+))?(?:\s+rescued=(?P<rescued>\d+))?(?:\s+ignored=(?P<ignored>\d+))?")


def parse_recap(output):
    """The PLAY RECAP of ansible-playbook's default output: ``{host: {ok, changed, unreachable, failed, ...}}``."""
    recap = {}
    seen = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            seen, recap = True, {}
            continue
        if not seen:
            continue
        match = RECAP_RE.match(line.strip())
        if match:
            recap[match.group("host")] = dict((key, int(value)) for key, value in match.groupdict().items()
                                              if key != "host" and value is not None)
    return recap


def failed_hosts(recap):
    """Hosts with a failed or unreachable task, sorted."""
    return sorted(host for host, stats in recap.items() if stats.get("failed") or stats.get("unreachable"))


def duplicates(names):
    """Names (case-insensitive) that occur more than once, sorted."""
    seen, twice = set(), set()
    for name in names:
        key = (name or "").lower()
        if key in seen:
            twice.add(key)
        seen.add(key)
    return sorted(twice)


def missing(wanted, present):
    """Wanted names (case-insensitive) that are not present, sorted."""
    have = set((name or "").lower() for name in present)
    return sorted(name.lower() for name in wanted if name.lower() not in have)


def by_task(entries, tasks):
    """Requests per task: each log entry goes to the task (bench_timer's ``{name, start, end, ...}``) running when it was
    logged. Returns the tasks in order, each with ``seconds`` and ``requests`` / ``batched`` / ``writes`` per service;
    entries outside every task go to a last row named "(outside any task)" when there are some."""
    rows = [dict(task, seconds=round((task["end"] or task["start"]) - task["start"], 2),
                 requests=dict((s, 0) for s in SERVICES), batched=dict((s, 0) for s in SERVICES), writes=dict((s, 0) for s in SERVICES))
            for task in tasks]
    outside = {"name": "(outside any task)", "action": "", "seconds": 0.0, "requests": dict((s, 0) for s in SERVICES),
               "batched": dict((s, 0) for s in SERVICES), "writes": dict((s, 0) for s in SERVICES)}
    starts = [task["start"] for task in tasks]
    for entry in entries:
        when = _when(entry)
        index = bisect.bisect_right(starts, when) - 1
        row = outside
        if index >= 0:
            task = rows[index]
            if task["end"] is None or when <= task["end"]:
                row = task
        service = entry.get("service")
        if service not in row["requests"]:
            continue
        row["batched" if entry.get("batch") is not None else "requests"][service] += 1
        if entry.get("write") and entry.get("status") not in (None, 429) and entry["status"] < 500:
            row["writes"][service] += 1
    if any(outside["requests"].values()) or any(outside["batched"].values()):
        rows.append(outside)
    return rows


def tasks_per_host(tasks, people):
    """How many tasks each person's host goes through: the tasks run once for the whole play (the engine) and the tasks
    every host ran (``bench_timer``'s ok / changed / skipped / failed counts reach the number of people). None for a run on
    one person, whose host cannot be told from the play's localhost checks."""
    if people < 2:
        return None
    count = 0
    for task in tasks:
        if task.get("name") == "(outside any task)":
            continue
        hosts = sum(task.get(key) or 0 for key in ("ok", "changed", "skipped", "failed"))
        if task.get("run_once") or hosts >= people:
            count += 1
    return count
