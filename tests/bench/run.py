"""The benchmark's moving parts: sandboxes with the bench knobs, ansible-playbook runs measured, the scenarios."""

import datetime
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time

import psutil

from tests.bench import inventory, metrics
from tests.bench.rss import RssSampler, megabytes
from tests.sandbox.client import start_sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINE = os.path.join("tests", "bench", "baseline", "onboard.yml")
CALLBACKS = os.path.join(ROOT, "tests", "bench", "callback_plugins")
LATENCY_MS = 50
SLICES = 4  # S5: the slices of an AWX sliced job, run at once


def knobs(time_scale):
    """The realism config of every bench sandbox: throttling at the published limits (windows x time_scale), 50 ms per request,
    Exchange and Practice Protect delays off (S4's target excludes the provisioning wait)."""
    return {"latency_ms": LATENCY_MS, "throttle": {"enabled": True, "time_scale": time_scale, "write_limit": 3000, "write_window_s": 150,
                                                   "ru_limit": None, "ru_window_s": 10},
            "mailbox_provisioning_delay_s": 0, "shared_conversion_delay_s": 0, "replication_lag_s": 0}


class Bench:
    """One sandbox with the bench knobs and enough licence seats, and a way to run playbooks against it."""

    def __init__(self, work, name, people, time_scale, forks=None, echo=print, timeout=None):
        self.work = os.path.join(work, name)
        self.name = name
        self.people = people
        self.forks = forks
        self.echo = echo
        self.timeout = timeout
        self.token_cache = os.path.join(self.work, "token-cache.json")
        self.sandbox = start_sandbox(os.path.join(self.work, "sandbox"))
        try:
            self.config = self.sandbox.configure(**knobs(time_scale))
            # A seat for everyone (the catalogue has 25 of the default licence), and some to spare.
            self.sandbox.control("PATCH", "skus", json={inventory.LICENCE: people + 50})
            self.mark = self._last_seq()
            self.server = psutil.Process(self.sandbox.process.pid)
        except Exception:
            self.sandbox.stop()
            raise

    def stop(self):
        self.sandbox.stop()

    def _last_seq(self):
        entries = self.sandbox.log()
        return entries[-1]["seq"] if entries else 0

    def env(self, timings):
        env = dict(os.environ)
        env.update(self.sandbox.env)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
            "BENCH_TIMINGS_FILE": timings,
            # docs/getting-started.md: a token cache so that a bulk run does not ask for a token per task.
            "M365_TOKEN_CACHE_PATH": self.token_cache,
            "PP_TOKEN_CACHE_PATH": os.path.join(self.work, "pp-token-cache.json"),
        })
        if self.forks:
            env["ANSIBLE_FORKS"] = str(self.forks)
        return env

    def playbook(self, label, args):
        """Run ansible-playbook; the request log since the previous run, wall and CPU time, peak RSS, the recap."""
        return self.playbooks(label, [args])

    def playbooks(self, label, runs):
        """Run one ansible-playbook per entry of ``runs`` (its arguments), all at once, as AWX runs the slices of a sliced
        job; measured together: wall time until the last ends, the request log since the previous run, CPU, peak RSS of any
        one process, the recaps merged. The per-task timings are the first run's."""
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")]
        names = [label] if len(runs) == 1 else ["%s-%d" % (label, index + 1) for index in range(len(runs))]
        for name, args in zip(names, runs):
            self.echo("  %s: %s" % (name, " ".join(["ansible-playbook"] + list(args))))
        load_before = os.getloadavg()
        server_cpu = sum(self.server.cpu_times()[:2])
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, epoch = time.monotonic(), time.time()
        processes = []
        for name, args in zip(names, runs):
            out = open(os.path.join(self.work, "%s.log" % name), "w")
            timings = os.path.join(self.work, "%s-tasks.json" % name)
            process = subprocess.Popen(cmd + list(args), cwd=ROOT, env=self.env(timings), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            processes.append((name, process, out, timings, RssSampler(process.pid).start()))
        codes = []
        for name, process, out, _, _ in processes:
            try:
                left = None if self.timeout is None else max(1.0, self.timeout - (time.monotonic() - started))
                codes.append(process.wait(left))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the playbook and the modules it started
                process.wait()
                codes.append("killed after %d s" % self.timeout)
            out.close()
        wall = time.monotonic() - started
        load_after = os.getloadavg()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs, recap, peaks, total = [], {}, [], 0
        for name, process, out, timings, sampler in processes:
            sampler.stop()
            with open(os.path.join(self.work, "%s.log" % name)) as handle:
                outputs.append(handle.read())
            recap.update(metrics.parse_recap(outputs[-1]))
            peaks.append(sampler.peak or {"name": "?", "rss": 0, "pid": 0})
            total += sampler.total
        entries = self.sandbox.log(since=self.mark)
        if entries:
            self.mark = entries[-1]["seq"]
        peak = max(peaks, key=lambda p: p["rss"])
        tasks = []
        if os.path.exists(processes[0][3]):
            with open(processes[0][3]) as handle:
                tasks = json.load(handle)["tasks"]
        startup = round(tasks[0]["start"] - epoch, 2) if tasks else None
        failed = [(code, output) for code, output in zip(codes, outputs) if code]
        rc = failed[0][0] if failed else 0
        return {
            "label": label, "command": "; ".join(" ".join(["ansible-playbook"] + list(args)) for args in runs), "rc": rc,
            "wall_s": round(wall, 2), "processes": len(runs),
            "ansible_cpu_s": round((used.ru_utime - children.ru_utime) + (used.ru_stime - children.ru_stime), 1),
            "sandbox_cpu_s": round(sum(self.server.cpu_times()[:2]) - server_cpu, 1),
            "load": [round(load_before[0], 2), round(load_after[0], 2)],
            "peak_rss_mb": megabytes(peak["rss"]), "peak_process": peak["name"], "peak_tree_mb": megabytes(total),
            "recap": recap, "entries": entries, "log": ", ".join("%s.log" % name for name in names),
            "tail": failed[0][1][-3000:] if failed else "", "startup_s": startup, "tasks": metrics.by_task(entries, tasks),
        }

    def tenant(self):
        """Graph users (active and deleted) and Practice Protect users and roles, for the checks."""
        return self.sandbox.state(), self.sandbox.control("GET", "pp/state")


def measure(run, people, throttle):
    """A playbook run as a scenario row: wall, requests per person per service, writes, 429s, failures, RSS."""
    counts = metrics.count_requests(run["entries"])
    return {
        "label": run["label"], "command": run["command"], "rc": run["rc"], "people": people, "wall_s": run["wall_s"],
        "requests": dict((service, counts[service]["requests"]) for service in metrics.SERVICES),
        "batched": dict((service, counts[service]["batched"]) for service in metrics.SERVICES),
        "writes": dict((service, counts[service]["writes"]) for service in metrics.SERVICES),
        "api_requests": metrics.total(counts),
        "per_person": metrics.per_person(dict((s, counts[s]) for s in metrics.SERVICES), people),
        "write_rate": metrics.write_rate(run["entries"], run["wall_s"], throttle),
        "throttled": metrics.total(counts, "throttled", metrics.SERVICES),
        "throttled_by": dict((service, counts[service]["throttled"]) for service in metrics.SERVICES),
        "server_errors": metrics.total(counts, "errors", metrics.SERVICES),
        "failed_hosts": metrics.failed_hosts(run["recap"]), "hosts": len(run["recap"]),
        "changed_hosts": sorted(h for h, s in run["recap"].items() if s.get("changed")),
        "peak_rss_mb": run["peak_rss_mb"], "peak_process": run["peak_process"], "peak_tree_mb": run["peak_tree_mb"],
        "ansible_cpu_s": run["ansible_cpu_s"], "sandbox_cpu_s": run["sandbox_cpu_s"], "load": run["load"], "log": run["log"],
        "loaded": max(run["load"]) > (os.cpu_count() or 1), "processes": run.get("processes", 1),
        "tasks_per_host": metrics.tasks_per_host(run["tasks"], people),
        "tail": run["tail"], "startup_s": run["startup_s"], "tasks": run["tasks"], "problems": [],
    }


def check_onboarded(bench, row, people, roles=True):
    """Everyone exists once in Microsoft 365 with the licence and the aliases, and once in Practice Protect in the role."""
    state, pp = bench.tenant()
    upns = [p["upn"] for p in people]
    wanted = set(upns)
    problems = row["problems"]
    for kind, names in (("Microsoft 365 users", [u["userPrincipalName"] for u in state["users"]]),
                        ("Practice Protect users", [u["Name"] for u in pp["users"]])):
        twice = [name for name in metrics.duplicates(names) if name in wanted]
        if twice:
            problems.append("%s created twice: %d (%s)" % (kind, len(twice), ", ".join(twice[:5])))
        absent = metrics.missing(upns, names)
        if absent:
            problems.append("%s missing: %d (%s)" % (kind, len(absent), ", ".join(absent[:5])))
    row["unique_upns"] = not any("twice" in problem for problem in problems)
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in state["skus"])
    by_upn = dict((u["userPrincipalName"].lower(), u) for u in state["users"] if u.get("_state", "active") == "active")
    unlicensed, no_alias = [], []
    for person in people:
        user = by_upn.get(person["upn"])
        if user is None:
            continue
        if inventory.LICENCE not in [skus.get(lic["skuId"]) for lic in user.get("assignedLicenses") or []]:
            unlicensed.append(person["upn"])
        addresses = set(address.lower() for address in user.get("proxyAddresses") or [])
        if any("smtp:" + alias.lower() not in addresses for alias in person["aliases"]):
            no_alias.append(person["upn"])
    for label, names in (("without the licence", unlicensed), ("without the aliases", no_alias)):
        if names:
            problems.append("%s: %d (%s)" % (label, len(names), ", ".join(names[:5])))
    if roles:
        members = set()
        for role in pp["roles"]:
            if role["Name"] == inventory.ROLE:
                members = set(m.lower() for m in role.get("Members") or [])
        outside = [upn for upn in upns if upn not in members]
        if outside:
            problems.append("not in the role %s: %d (%s)" % (inventory.ROLE, len(outside), ", ".join(outside[:5])))


def check_offboarded(bench, row, upns):
    state, _ = bench.tenant()
    by_upn = dict((u["userPrincipalName"].lower(), u) for u in state["users"] if u.get("_state", "active") == "active")
    open_accounts = [upn for upn in upns if by_upn.get(upn, {}).get("accountEnabled", True) or by_upn.get(upn, {}).get("assignedLicenses")]
    if open_accounts:
        row["problems"].append("leavers still enabled or licensed: %d (%s)" % (len(open_accounts), ", ".join(open_accounts[:5])))


def check_run(row):
    if isinstance(row["rc"], str):
        row["problems"].append("ansible-playbook was %s" % row["rc"])
    elif row["rc"] != 0:
        row["problems"].append("ansible-playbook exited with %s" % row["rc"])
    if row["failed_hosts"]:
        row["problems"].append("failed hosts: %d (%s)" % (len(row["failed_hosts"]), ", ".join(row["failed_hosts"][:5])))


def check_converged(row):
    writes = metrics.total({s: {"writes": row["writes"][s]} for s in metrics.API_SERVICES}, "writes")
    if writes:
        row["problems"].append("the re-run wrote %d times" % writes)
    if row["changed_hosts"]:
        row["problems"].append("the re-run changed %d hosts" % len(row["changed_hosts"]))


def revision():
    """The commit measured, and whether the collection's code (plugins, roles, playbooks) differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "plugins", "roles", "playbooks"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes in plugins/, roles/ or playbooks/" if dirty else "")


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from ansible.release import __version__ as ansible_version
    except ImportError:
        ansible_version = "not installed"
    memory = psutil.virtual_memory().total
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gb": round(memory / 1024.0 ** 3, 1), "python": platform.python_version(),
            "ansible_core": ansible_version, "revision": revision(), "system": "%s %s" % (platform.system(), platform.release()),
            "load_start": [round(v, 2) for v in os.getloadavg()]}


def scenarios(people, time_scale=1.0, forks=None, baseline=True, baseline_people=None, work=None, echo=print, timeout=None):
    """Run S1-S5 and the baseline; returns the results dict (report.py turns it into docs/performance.md)."""
    work = work or tempfile.mkdtemp(prefix="m365-bench-")
    inv_dir = os.path.join(work, "inventory")
    inv_path, inv = inventory.write(inv_dir, people)
    intake = inventory.members(inv, "intake")
    leavers = [p["upn"] for p in inventory.members(inv, "leavers")]
    survey = inventory.members(inv, "survey")
    baseline_people = min(people, baseline_people or people)
    results = {"people": people, "leavers": len(leavers), "time_scale": time_scale, "latency_ms": LATENCY_MS, "forks": forks or 5,
               "baseline_people": baseline_people if baseline else 0, "date": datetime.date.today().isoformat(),
               "machine": machine(), "work": work, "scenarios": {}, "baseline": {}}
    echo("bench: %d people, time scale %s, work dir %s" % (people, time_scale, work))
    started = time.monotonic()

    bench = Bench(work, "collection", people, time_scale, forks, echo, timeout)
    try:
        throttle = bench.config["throttle"]
        results["throttle"] = throttle
        onboard = ["-i", inv_path, "playbooks/onboard.yml"]
        row = measure(bench.playbook("S1", onboard + ["-e", "onboard_hosts=intake"]), people, throttle)
        check_run(row)
        check_onboarded(bench, row, intake)
        results["scenarios"]["S1"] = row
        echo(summary_line("S1", row))

        row = measure(bench.playbook("S2", onboard + ["-e", "onboard_hosts=intake"]), people, throttle)
        check_run(row)
        check_converged(row)
        check_onboarded(bench, row, intake)
        results["scenarios"]["S2"] = row
        echo(summary_line("S2", row))

        row = measure(bench.playbook("S3", ["-i", inv_path, "playbooks/offboard.yml"]), len(leavers), throttle)
        check_run(row)
        check_offboarded(bench, row, leavers)
        results["scenarios"]["S3"] = row
        echo(summary_line("S3", row))

        row = measure(bench.playbook("S4", onboard + ["--limit", inventory.SURVEY_HOST]), 1, throttle)
        check_run(row)
        check_onboarded(bench, row, survey)
        results["scenarios"]["S4"] = row
        echo(summary_line("S4", row))
    finally:
        bench.stop()

    # S5: the intake again, on a fresh tenant, as AWX job slicing runs it: SLICES ansible-playbook processes at once, each
    # on its share of the hosts (AWX deals them out in turn), against one tenant whose throttling they share.
    bench = Bench(work, "slices", people, time_scale, forks, echo, timeout)
    try:
        throttle = bench.config["throttle"]
        hosts = inventory.host_names(inv)
        runs = []
        for index in range(SLICES):
            limit = os.path.join(inv_dir, "slice-%d.txt" % (index + 1))
            with open(limit, "w") as handle:
                handle.write("\n".join(hosts[index::SLICES]) + "\n")
            runs.append(onboard + ["-e", "onboard_hosts=intake", "--limit", "@" + limit])
        row = measure(bench.playbooks("S5", runs), people, throttle)
        check_run(row)
        check_onboarded(bench, row, intake)
        results["scenarios"]["S5"] = row
        echo(summary_line("S5", row))
    finally:
        bench.stop()

    if baseline:
        bench = Bench(work, "baseline", people, time_scale, forks, echo, timeout)
        try:
            throttle = bench.config["throttle"]
            hosts = "intake" if baseline_people == people else "intake[0:%d]" % (baseline_people - 1)
            args = ["-i", inv_path, BASELINE, "-e", "onboard_hosts=%s" % hosts]
            row = measure(bench.playbook("B1", args), baseline_people, throttle)
            check_run(row)
            check_onboarded(bench, row, intake[:baseline_people])
            results["baseline"]["S1"] = row
            echo(summary_line("baseline S1", row))
            row = measure(bench.playbook("B2", args), baseline_people, throttle)
            check_run(row)
            check_converged(row)
            results["baseline"]["S2"] = row
            echo(summary_line("baseline S2", row))
        finally:
            bench.stop()
    results["total_wall_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_end"] = [round(v, 2) for v in os.getloadavg()]
    with open(os.path.join(work, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    return results


def summary_line(name, row):
    return ("  %-12s wall %7.1fs  requests %5d (graph %d + %d batched, exchange %d, pp %d, login %d)  graph writes %d (%.2f/s)  "
            "429s %d  failed hosts %d  peak RSS %.0f MB (%s)  ansible CPU %.0fs  sandbox CPU %.0fs%s") % (
        name, row["wall_s"], row["api_requests"], row["requests"]["graph"], row["batched"]["graph"], row["requests"]["exchange"],
        row["requests"]["pp"], row["requests"]["login"], row["write_rate"]["writes"], row["write_rate"]["per_s"], row["throttled"],
        len(row["failed_hosts"]), row["peak_rss_mb"], row["peak_process"], row["ansible_cpu_s"], row["sandbox_cpu_s"],
        ("  PROBLEMS: " + "; ".join(row["problems"])) if row["problems"] else "")
