# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The people of one onboarding or offboarding run: who goes on to each step, what happened to each, the run report.

Plain Python with no Ansible import, so the unit tests reach it on tables of scenarios. The action plugins
``onboard`` and ``offboard`` (``plugins/action``) build a ``Person`` per inventory host, hand the flow (``_joiners``,
``_leavers``) a ``Runner`` that executes the collection's modules, and turn the people back into per-host results.

A person fails at a step for their own reason (``Person.fail``); a step that fails as a whole (a service down, a
wrong secret) fails each person it was for. Every later step names the steps it depends on, and a person goes on
to it unless one of those failed for them (``Person.blocked``): a failed invitation into Practice Protect does not
stop the activation mail of an account that was created before it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

CHECKS = "checks"
ADVICE_CHECKS = "Nothing was written for them; correct it and run again."
ADVICE_LATER = ("What was done for them before this step is kept; fix the cause and run again (in AWX, relaunch on failed hosts): "
                "the run completes them without doing anything twice.")


class Person:
    """One person of the run (one inventory host)."""

    def __init__(self, host, options):
        self.host = host
        self.options = options       # the role variables as this host sees them, checked against the role's argument spec
        self.upn = ""
        self.deployment = ""
        self.spec = {}
        self.failures = []           # [(step, title, message)], in the order they happened
        self.notes = []              # [(title, text)]: what each step did (or would do) for this person
        self.changed = False
        self.pending = False         # check mode: the account would be created, so the steps after it wait for it
        self.diffs = []
        self.password = None         # a generated password of this run; never part of any result but the no_log hand-over
        self.facts = {}              # extra fields of the person's result fact
        self.advice = {}             # step -> what to do when that step failed, where the general advice does not fit

    @property
    def failed(self):
        return bool(self.failures)

    def blocked(self, *steps):
        """Whether a step this one depends on failed for this person (the checks always count)."""
        return any(failure[0] in (CHECKS,) + steps for failure in self.failures)

    def fail(self, step, title, message):
        message = (message or "the step failed without a message").strip()
        if (step, title, message) not in self.failures:
            self.failures.append((step, title, message))

    def note(self, title, text, changed=False):
        self.notes.append((title, text))
        self.changed = self.changed or bool(changed)


def active(people, *steps, **where):
    """The people not blocked by ``steps`` (nor the checks), matching ``where`` (attribute = value)."""
    out = []
    for person in people:
        if person.blocked(*steps):
            continue
        if all(getattr(person, key) == value for key, value in where.items()):
            out.append(person)
    return out


def closest(name, known):
    """The known name closest to a misspelled one, or None."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_variables(names, prefix, known, reserved=()):
    """``[(name, closest known name or None)]`` for every variable named ``<prefix>*`` that the role does not know."""
    out = []
    # Compared without the prefix every name shares, which would make any two names look alike.
    rest = dict((k[len(prefix):], k) for k in known if k.startswith(prefix))
    for name in sorted(set(names)):
        if not name.startswith(prefix) or name in known or name in reserved:
            continue
        match = closest(name[len(prefix):], rest)
        out.append((name, rest[match] if match else None))
    return out


def describe_unknown(unknown):
    parts = []
    for name, suggestion in unknown:
        parts.append("%s (did you mean %s?)" % (name, suggestion) if suggestion else "%s (no role variable has a similar name)" % name)
    return ("unknown role variable%s %s; correct the name (the role would otherwise run without it)" % (
        "s" if len(unknown) > 1 else "", ", ".join(parts)))


# -- module results -------------------------------------------------------------------------------------------------

def outcomes_of(result, people, key, step, title):
    """Each person's outcome of an ``items`` module run; people it failed for are failed at ``step``.

    A run that failed as a whole (no outcomes: a service unreachable, a credential refused, bad options) fails every
    person it was for with its message. Returns ``{person: outcome}`` for the others."""
    outcomes = result.get("outcomes")
    if result.get("failed") and not isinstance(outcomes, dict):
        for person in people:
            person.fail(step, title, result.get("msg"))
        return {}
    outcomes = outcomes or {}
    out = {}
    for person in people:
        outcome = outcomes.get(key(person).lower())
        if outcome is None:
            person.fail(step, title, "the module returned no outcome for %s" % key(person))
        elif outcome.get("failed"):
            person.fail(step, title, outcome.get("msg"))
        else:
            out[person] = outcome
    return out


def name_fields(people, fields):
    """A check's message names the module's option; the person's variable is what to correct, so name that instead."""
    for person in people:
        for index, (step, title, message) in enumerate(person.failures):
            if step != CHECKS:
                continue
            for option, variable in fields.items():
                if message.startswith(option + " "):
                    message = variable + message[len(option):]
                message = message.replace(" for %s." % option, " for %s." % variable)
            person.failures[index] = (step, title, message)


def diffs_by_name(result):
    """The ``diff`` entries of an items module's result, by the item they are for (lower-case)."""
    diffs = result.get("diff") or []
    if isinstance(diffs, dict):
        diffs = [diffs]
    return dict(((d.get("after_header") or d.get("before_header") or "").lower(), d) for d in diffs if isinstance(d, dict))


class Flow:
    """What the onboarding and offboarding flows share: running a module for some people and reading each one's part."""

    titles = {}
    quiet_steps = (CHECKS,)  # steps whose diffs are not the person's (the checks plan what the writes then show)
    module_name = "practiceprotect.m365.%s"

    def __init__(self, people, runner, check_mode=False):
        self.people = people
        self.runner = runner
        self.check_mode = check_mode

    def module(self, name, args, check=None, no_log=False):
        """One module run; ``check=None`` runs it in the task's own check mode."""
        return self.runner.module(self.module_name % name, args, check=check, no_log=no_log)

    def items(self, name, people, item, step, check=None, no_log=False, diff_title=None, **args):
        """Run an ``items`` module for ``people`` (each item named by the person's UPN); returns ``{person: outcome}`` of those
        it did not fail. Each person's diff is kept under ``diff_title`` (the step's title by default)."""
        if not people:
            return {}
        args = dict(args, items=[item(p) for p in people], fail_on_item_error=False)
        result = self.module(name, args, check=check, no_log=no_log)
        diffs = diffs_by_name(result)
        out = outcomes_of(result, people, lambda p: p.upn, step, self.titles[step])
        title = diff_title or (None if step in self.quiet_steps else self.titles[step])
        for person in out:
            diff = diffs.get(person.upn)
            if diff is not None and title:
                header = "%s (%s)" % (title, person.upn)
                person.diffs.append(dict(diff, before_header=header, after_header=header))
        return out

    def would(self, done, planned):
        """The words for what a step did, or in check mode would do."""
        return planned if self.check_mode else done


# -- the report -----------------------------------------------------------------------------------------------------

def outcome_text(person, done_word, check_mode):
    """The one sentence the person's host shows: what happened, or which step failed, why and what to do."""
    if person.failed:
        step, title, message = person.failures[0]
        advice = person.advice.get(step) or (ADVICE_CHECKS if step == CHECKS else ADVICE_LATER)
        text = "%s was not %s: %s: %s" % (person.upn, done_word, title, message.rstrip("."))
        for other_step, other_title, other_message in person.failures[1:]:
            text += "; then %s: %s" % (other_title, other_message.rstrip("."))
        return "%s. %s" % (text, advice)
    if check_mode:
        return "%s: %s" % (person.upn, ("would be %s" % done_word) if person.changed else "already as requested, nothing would change")
    return "%s: %s" % (person.upn, done_word if person.changed else "already as requested")


def person_report(person, done_word, check_mode):
    step, title, message = person.failures[0] if person.failures else (None, None, None)
    return {
        "host": person.host,
        "upn": person.upn,
        "deployment": person.deployment,
        "changed": person.changed,
        "failed": person.failed,
        "failed_step": title,
        "outcome": outcome_text(person, done_word, check_mode),
        "steps": ["%s: %s" % (t, text) for t, text in person.notes],
    }


def summary(reports):
    failed = [r for r in reports if r["failed"]]
    changed = [r for r in reports if r["changed"] and not r["failed"]]
    steps = {}
    for report in failed:
        steps[report["failed_step"]] = steps.get(report["failed_step"], 0) + 1
    return {"people": len(reports), "changed": len(changed), "unchanged": len(reports) - len(failed) - len(changed),
            "failed": len(failed), "failed_by_step": steps}


def markdown(title, reports, check_mode, started, finished):
    """The run report as Markdown (no secret is ever in ``reports``)."""
    counts = summary(reports)
    lines = ["# %s%s" % (title, " (check mode: nothing was written)" if check_mode else ""), "",
             "Started %s, finished %s." % (started, finished), "",
             "| people | changed | already as requested | failed |", "|---|---|---|---|",
             "| %d | %d | %d | %d |" % (counts["people"], counts["changed"], counts["unchanged"], counts["failed"]), ""]
    if counts["failed"]:
        lines += ["## Failed", "", "| person | host | step | what happened and what to do |", "|---|---|---|---|"]
        for report in reports:
            if report["failed"]:
                lines.append(_row(report["upn"], report["host"], report["failed_step"], report["outcome"]))
        lines.append("")
    lines += ["## Everyone", "", "| person | host | deployment | outcome | steps |", "|---|---|---|---|---|"]
    for report in reports:
        lines.append(_row(report["upn"], report["host"], report["deployment"], report["outcome"], "; ".join(report["steps"])))
    return "\n".join(lines) + "\n"


def _row(*cells):
    return "| %s |" % " | ".join(str(cell or "").replace("|", "\\|").replace("\n", " ") for cell in cells)
