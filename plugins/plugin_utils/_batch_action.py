# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the onboarding and offboarding engines: the people of the play batch in, per-host results out.

Why an action plugin: the decisions (``_joiners``, ``_leavers``) need every person of the play at once, with the role
variables each host sees, and they run the collection's own modules for every step. An action plugin runs on the
controller, sees every host's variables through the variable manager, and runs modules with ``_execute_module``
exactly as tasks would (same interpreter, same check and diff mode). The roles then need one task for the whole play
(``run_once``) and one per host (``person_result``) besides Ansible's argument validation, whatever the number of steps.

What this file does and nothing more: resolve each host's role variables (with the precedence Ansible gives them on
that host), check them against the role's argument spec and refuse unknown names, hand the people and a module runner
to the flow, write the run report, and return per-host results (``people``), ``set_stats`` data and, only with
password delivery ``return``, the passwords under ``no_log``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import time
import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _people

display = Display()

M365_OPTIONS = ("tenant_id", "client_id", "client_secret", "client_certificate_path", "client_certificate_thumbprint",
                "client_certificate_password", "authority_url", "graph_url", "exchange_url", "ca_path", "validate_certs", "token_cache_path",
                "request_timeout", "retry_deadline")
PP_OPTIONS = ("pp_url", "pp_app_id", "pp_client_id", "pp_client_secret", "pp_scope", "pp_token_cache_path", "ca_path", "validate_certs", "request_timeout",
              "retry_deadline")
# Modules that take both connections.
BOTH = ("outbound_sync",)
PP_MODULES = ("pp_user", "pp_role_member")
DEFAULT_REPORT_DIR = "~/.ansible/practiceprotect_m365/reports"
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def role_spec(role):
    """The ``main`` entry point's argument spec of one of this collection's roles (the role's meta/argument_specs.yml)."""
    import yaml

    path = os.path.join(COLLECTION_ROOT, "roles", role, "meta", "argument_specs.yml")
    with open(path) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def _strip_docs(spec):
    """An argument spec without the documentation keys (ArgumentSpecValidator's form)."""
    out = {}
    for name, option in spec.items():
        option = dict((k, val) for k, val in option.items() if k not in ("description", "version_added"))
        if "options" in option:
            option["options"] = _strip_docs(option["options"])
        out[name] = option
    return out


_LIST_SEPARATORS = re.compile(r"[\r\n,;]+")


def answers(value, option):
    """A role variable as a form gives it, in the type the role's ``option`` declares: an AWX survey answers every
    question with text, so a blank answer means "not given", and a list may come as one text of lines or of
    comma-separated values. Dictionaries with suboptions (a person) are read key by key; anything else is kept."""
    kind = option.get("type")
    if isinstance(value, str) and not value.strip() and kind != "raw":
        return None
    if kind == "list" and isinstance(value, str):
        return [item.strip() for item in _LIST_SEPARATORS.split(value) if item.strip()]
    if kind == "dict" and isinstance(value, dict) and option.get("options"):
        out = {}
        for key, item in value.items():
            item = answers(item, option["options"].get(key) or {})
            if item is not None:
                out[key] = item.strip() if isinstance(item, str) else item
        return out
    return value


_TYPE_ERROR = re.compile(r"^argument '(?P<name>\w+)' is of type (?P<actual>\w+)(?: found in '(?P<parent>\w+)')?\.? and we were unable to "
                         r"convert to (?P<wanted>\w+).*$", re.S)


def readable(message):
    """Ansible's argument-spec message in the role's own words: ``person.aliases must be a list, not a dict``."""
    found = _TYPE_ERROR.match(message)
    if not found:
        return message
    parent = found.group("parent")
    name = "%s.%s" % (parent.split("_", 1)[-1] if parent else "", found.group("name")) if parent else found.group("name")
    return "%s must be a %s, not a %s" % (name, found.group("wanted"), found.group("actual"))


def connection_args(module, args):
    """The connection options of the task that a module takes."""
    short = module.rsplit(".", 1)[-1]
    names = set(M365_OPTIONS) | set(PP_OPTIONS) if short in BOTH else set(PP_OPTIONS) if short in PP_MODULES else set(M365_OPTIONS)
    return dict((name, value) for name, value in args.items() if name in names and value is not None)


class Runner:
    """Runs the collection's modules for the flow, the way tasks run them; a failure is returned, never raised."""

    def __init__(self, action, task_vars, connection):
        self.action = action
        self.task_vars = task_vars
        self.connection = connection
        self.calls = []
        self.timings = []  # {module, check, seconds} of each module run, in order: where an engine run's time goes

    def module(self, name, args, check=None, no_log=False):
        module_args = connection_args(name, self.connection)
        module_args.update(args)
        self.calls.append(name)
        self.action._forced = {"check": check, "no_log": no_log}
        started = time.monotonic()
        try:
            result = self.action._execute_module(module_name=name, module_args=module_args, task_vars=self.task_vars)
        except Exception as exc:  # an Ansible error running the module (not the module's own failure, which it returns)
            result = {"failed": True, "msg": "running %s failed: %s" % (name, exc)}
        finally:
            self.action._forced = None
            self.timings.append({"module": name.rsplit(".", 1)[-1], "check": bool(check), "seconds": round(time.monotonic() - started, 2)})
        if result.get("failed") and not result.get("msg"):
            result["msg"] = (result.get("module_stderr") or result.get("exception") or "%s failed without a message" % name).strip()[-2000:]
        elif result.get("failed") and "module_stderr" in result and not result.get("module_stdout"):
            # The module never ran (the interpreter is missing or broken): say so, and what the interpreter said.
            said = (result.get("module_stderr") or "").strip().splitlines()
            result["msg"] = ("%s could not run with the Python interpreter %s (%s); set ansible_python_interpreter to the Python that "
                             "has the collection's requirements, as inventory/example/group_vars/all.yml does" % (
                                 name, (result.get("ansible_facts") or {}).get("discovered_interpreter_python") or "of the host",
                                 said[0] if said else result.get("msg")))
        return result


class BatchAction(ActionBase):
    """Base of the ``onboard`` and ``offboard`` actions: see the module docstring."""

    TRANSFERS_FILES = False
    ROLE = None
    PREFIX = None
    RESERVED = ()
    RESULT_FACT = None
    PASSWORD_FACT = None
    TITLE = None
    _forced = None

    def flow(self, people, runner, task_vars):
        raise NotImplementedError

    def result_fact(self, person):
        raise NotImplementedError

    def _update_module_args(self, module_name, module_args, task_vars, *args, **kwargs):
        super(BatchAction, self)._update_module_args(module_name, module_args, task_vars, *args, **kwargs)
        forced = self._forced or {}
        if forced.get("check") is not None:
            module_args["_ansible_check_mode"] = bool(forced["check"]) or bool(self._task.check_mode)
        if forced.get("no_log"):
            module_args["_ansible_no_log"] = True

    # -- variables ------------------------------------------------------------------------------------------------------

    def host_variables(self, host, task_vars):
        """The names and raw values of the variables ``host`` sees for this task (role defaults, inventory, play, role
        parameters, facts, extra vars, with Ansible's precedence)."""
        if host == task_vars.get("inventory_hostname"):
            return task_vars
        hostvars = task_vars["hostvars"]
        manager = getattr(hostvars, "_variable_manager", None)
        inventory = getattr(hostvars, "_inventory", None)
        play = getattr(getattr(self._task, "_parent", None), "_play", None)
        if manager is None or inventory is None or inventory.get_host(host) is None:
            return dict(task_vars, **dict(hostvars[host]))
        return manager.get_vars(play=play, host=inventory.get_host(host), task=self._task, include_hostvars=False)

    def person(self, host, task_vars, spec, validator):
        variables = self.host_variables(host, task_vars)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        names = [name for name in variables if isinstance(name, str) and name.startswith(self.PREFIX)]
        values = {}
        problems = []
        for name in names:
            if name in spec:
                try:
                    value = answers(templar.template(variables[name]), spec[name])
                except Exception as exc:  # an undefined variable inside a role variable: that host's own problem
                    problems.append("%s cannot be read: %s" % (name, exc))
                    continue
                if value is not None:
                    values[name] = value
        checked = validator.validate(values)
        person = _people.Person(host, checked.validated_parameters)
        if checked.error_messages:
            problems.extend(readable(message) for message in checked.error_messages)
        unknown = _people.unknown_variables(names, self.PREFIX, spec, self.RESERVED)
        if unknown:
            problems.append(_people.describe_unknown(unknown))
        if problems:
            person.fail(_people.CHECKS, "role variables", "; ".join(problems))
        return person

    # -- the run ----------------------------------------------------------------------------------------------------------

    def run(self, tmp=None, task_vars=None):
        result = super(BatchAction, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        started = now()
        hosts = list(task_vars.get("ansible_play_batch") or [task_vars.get("inventory_hostname")])
        spec = _strip_docs(role_spec(self.ROLE))
        validator = ArgumentSpecValidator(spec)
        people = [self.person(host, task_vars, spec, validator) for host in hosts]
        runner = Runner(self, task_vars, dict(self._task.args))
        try:
            self.flow(people, runner, task_vars)
        except Exception:
            result.update(failed=True, msg="The %s run stopped on an internal error; nothing after it was done:\n%s" % (
                self.ROLE, traceback.format_exc()))
            return result
        finally:
            if getattr(self._connection._shell, "tmpdir", None):
                self._remove_tmp_path(self._connection._shell.tmpdir)
        check_mode = bool(self._task.check_mode)
        reports = [_people.person_report(p, self.DONE_WORD, check_mode) for p in people]
        out = {}
        passwords = {}
        for person, report in zip(people, reports):
            entry = dict(report, fact=self.result_fact(person), diff=person.diffs)
            out[person.host] = entry
            if person.password and self.PASSWORD_FACT:
                passwords[person.host] = person.password
        result.update(changed=False, people=out, summary=_people.summary(reports), result_fact=self.RESULT_FACT,
                      password_fact=self.PASSWORD_FACT, modules_run=len(runner.calls), module_runs=runner.timings)
        report_dir = self.report_dir(people)
        try:
            result["report"] = self.write_report(report_dir, reports, check_mode, started)
        except (IOError, OSError) as exc:
            result["report"] = None
            display.warning("The run report could not be written to %s: %s. Set %sreport_dir to a writable directory." % (
                report_dir, exc, self.PREFIX))
        result["ansible_stats"] = {"data": {self.ROLE.split("_")[0] + "_report": dict(
            (r["upn"], {"outcome": r["outcome"], "changed": r["changed"], "failed": r["failed"], "failed_step": r["failed_step"]})
            for r in reports)}, "per_host": False, "aggregate": True}
        if passwords:
            result["passwords"] = passwords
            result["_ansible_no_log"] = True
        return result

    def report_dir(self, people):
        for person in people:
            configured = person.options.get(self.PREFIX + "report_dir")
            if configured:
                return os.path.expanduser(configured)
        return os.path.expanduser(DEFAULT_REPORT_DIR)

    def write_report(self, directory, reports, check_mode, started):
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        base = os.path.join(directory, "%s-%s%s" % (self.ROLE.split("_")[0], stamp, "-check" if check_mode else ""))
        with open(base + ".md", "w") as handle:
            handle.write(_people.markdown(self.TITLE, reports, check_mode, started, now()))
        with open(base + ".json", "w") as handle:
            json.dump({"check_mode": check_mode, "started": started, "summary": _people.summary(reports), "people": reports}, handle,
                      indent=1, sort_keys=True)
        return {"markdown": base + ".md", "json": base + ".json"}


def now():
    """The time now, UTC, to the second (ISO 8601)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
