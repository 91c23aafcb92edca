"""Command line: ``python -m tests.bench [--people N] [--smoke] [--out docs/performance.md]``.

``--smoke`` is the 50-person run of ``make test``: it fails only on failed hosts, people created twice or missing, a
re-run that writes, or a crash; it makes no timing assertion. Without ``--smoke`` the run reports the targets of
``make bench`` (met or not) and fails only for the same reasons.
"""

import argparse
import json
import shutil
import sys

from tests.bench import report, run

SMOKE_PEOPLE = 50
SMOKE_BASELINE = 5  # the smoke runs the baseline on a few people, so that it cannot rot either
SMOKE_TIMEOUT = 900  # seconds per playbook in the smoke: a hang fails make test instead of blocking it


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--people", type=int, default=None, help="joiners in S1 (default 1000; 50 with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="the make test version: 50 people, no timing targets")
    parser.add_argument("--out", default=None, help="write the report (markdown) here, e.g. docs/performance.md")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="multiplies the throttling windows (1.0: the published limits, the default)")
    parser.add_argument("--forks", type=int, default=None, help="ansible forks (default: Ansible's, 5)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the hand-written uri baseline")
    parser.add_argument("--baseline-people", type=int, default=None,
                        help="run the baseline on the first N joiners only (default: all of them; 5 with --smoke)")
    parser.add_argument("--json", default=None, help="also write the raw results (JSON) here")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (inventory, playbook logs, results.json)")
    args = parser.parse_args(argv)
    people = args.people or (SMOKE_PEOPLE if args.smoke else 1000)
    if people < 1:
        parser.error("--people must be at least 1")

    baseline_people = min(people, args.baseline_people or (SMOKE_BASELINE if args.smoke else people))
    results = run.scenarios(people, time_scale=args.time_scale, forks=args.forks, baseline=not args.no_baseline,
                            baseline_people=baseline_people, timeout=SMOKE_TIMEOUT if args.smoke else None)
    results["command"] = report.command(people, args)
    results["smoke"] = args.smoke
    print()
    print(report.console(results))
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report.markdown(results))
        print("report: %s" % args.out)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1, default=str)
    problems = report.problems(results)
    if problems or args.keep:
        print("work dir kept: %s (playbook logs, inventory, results.json)" % results["work"])
    else:
        shutil.rmtree(results["work"], ignore_errors=True)
    if problems:
        print("bench: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("bench: no failures, nobody created twice%s" % ("" if args.smoke else "; targets above"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
