# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the collection's modules: options, clients, errors, one object or many.

A module is its documentation, its argument spec (from its resource's table where it has one) and one call,
``Module(spec, services=...).run(plan, prefetch)``. ``services`` names the services the module talks to
(``graph``, ``exchange``, ``practice_protect``): the class adds their connection options (documented once in the
``m365_auth`` and ``practice_protect_auth`` doc fragments), builds their clients on first use over one session,
returns each one's request count, and turns each one's errors into ``fail_json`` with a sentence and the service's
error fields. ``plan(module, params)`` reads and plans one object and returns ``(result, apply)``; ``run`` applies it,
or, with ``items``, plans everyone first and applies the plans on a pool of workers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy
import threading
import traceback

try:
    from concurrent.futures import ThreadPoolExecutor
except ImportError:  # pragma: no cover - Python 2 controllers are not supported; items then apply one by one
    ThreadPoolExecutor = None

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.practiceprotect.m365.plugins.module_utils import _auth, _connection, _exchange, _http, _mail, _permissions, _validation
from ansible_collections.practiceprotect.m365.plugins.module_utils import _model, _practice_protect
from ansible_collections.practiceprotect.m365.plugins.module_utils._client import WRITES
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphClient, GraphError

GRAPH, EXCHANGE, PRACTICE_PROTECT = "graph", "exchange", "practice_protect"
M365_SERVICES = (GRAPH, EXCHANGE)


LIBRARIES = (
    (_http.HAS_REQUESTS, "requests", _http.REQUESTS_IMPORT_ERROR),
    (_validation.HAS_PHONENUMBERS, "phonenumbers", _validation.PHONENUMBERS_IMPORT_ERROR),
    (_validation.HAS_EMAIL_VALIDATOR, "email-validator", _validation.EMAIL_VALIDATOR_IMPORT_ERROR),
)
MSAL_LIBRARY = (_auth.HAS_MSAL, "msal", _auth.MSAL_IMPORT_ERROR)


class _AnsibleModule(AnsibleModule):
    """AnsibleModule whose start-up log line leaves out ``items``: an item's own ``no_log`` options (a
    password) are only known once the items are checked, after that line is written. A many-valued option given as a
    plain list (the form before the list idiom) is set aside in ``plain_lists`` for the idiom's own message, rather than
    Ansible's "dictionary requested"."""

    def _load_params(self):
        super(_AnsibleModule, self)._load_params()
        self.plain_lists = []
        for name, option in self.argument_spec.items():
            if _model.is_list_option(option) and isinstance(self.params.get(name), list):
                self.plain_lists.append(name)
                self.params[name] = {}

    def _log_invocation(self):
        items = self.params.get("items")
        if items is None:
            return super(_AnsibleModule, self)._log_invocation()
        self.params["items"] = "(%d items)" % len(items)
        try:
            return super(_AnsibleModule, self)._log_invocation()
        finally:
            self.params["items"] = items


class Module:
    """The AnsibleModule of one of the collection's modules, with the clients of its ``services`` (built on first use
    over one session with retry accounting), results and failures that carry each service's request count and error
    fields, and one way to run: ``run(plan, prefetch)``."""

    error_types = (GraphError, _auth.AuthError, _validation.ValidationError, _http.TransportError, _practice_protect.PracticeProtectError)

    def __init__(self, argument_spec, services=(GRAPH,), items=None, label_optional=False, admin_rights=(), mutually_exclusive=(),
                 secret_results=None, **kwargs):
        """``services``: the services the module talks to; the first one's connection must be complete before anything
        runs, another one's when the module first uses it (a Practice Protect module reads Microsoft 365 only for some
        options). ``items=(item_spec, key)``: the module takes one object (its own options, ``key`` naming it) or a list of
        them (``items``); see ``run``. ``label_optional``: ``key`` only names the items (a single object needs no name), so
        only the items must give it. ``admin_rights``: the Practice Protect rights docs/permissions.md lists for the module,
        named when Practice Protect refuses a read. ``secret_results``: ``{option: what it returns}`` for options that make
        the module return a secret; the task must then set ``no_log`` (``require_no_log``)."""
        self.services = tuple(services)
        self.admin_rights = tuple(admin_rights)
        m365 = bool(set(self.services) & set(M365_SERVICES))
        pp = PRACTICE_PROTECT in self.services
        spec = dict(_connection.BOTH_AUTH_SPEC if m365 and pp else _connection.PP_AUTH_SPEC if pp else _connection.M365_AUTH_SPEC)
        spec.update(argument_spec)
        mutually_exclusive = list(mutually_exclusive)
        if m365:
            mutually_exclusive.append(("client_secret", "client_certificate_path"))
        self.items = items
        if items is not None:
            item_spec, key = items
            spec.update(with_items(item_spec, key))
            mutually_exclusive.append((key, "items"))
            if not label_optional:
                kwargs["required_one_of"] = list(kwargs.get("required_one_of") or []) + [(key, "items")]
        self.module = _AnsibleModule(argument_spec=spec, mutually_exclusive=mutually_exclusive, **kwargs)
        if self.module.plain_lists:
            self.module.fail_json(msg=_model.plain_list_message(self.module.plain_lists[0]))
        self._shared = {}
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._session = None
        self._tokens = None
        self._graph = None
        self._exchange = None
        self._pp = None
        self._warned = 0
        self.retry_stats = None
        libraries = LIBRARIES + ((MSAL_LIBRARY,) if self.services[0] in M365_SERVICES else ())
        for has, name, error in libraries:
            if not has:
                self.module.fail_json(msg=missing_required_lib(name), exception="".join(traceback.format_exception_only(type(error), error)))
        missing = self.missing(self.services[0])
        if missing:
            self.module.fail_json(msg=missing)
        for option, what in sorted((secret_results or {}).items()):
            self.require_no_log(option, what)

    def absent(self, service):
        """The connection options of ``service`` that are not set (empty when its client can be built)."""
        p = self.params
        if service == PRACTICE_PROTECT:
            return [name for name in _connection.PP_REQUIRED if not p.get(name)]
        absent = [name for name in ("tenant_id", "client_id") if not p.get(name)]
        if not p.get("client_secret") and not p.get("client_certificate_path"):
            absent.append("client_secret or client_certificate_path")
        return absent

    def missing(self, service):
        """What the connection of ``service`` lacks, as a sentence (None when it is complete)."""
        absent = self.absent(service)
        if not absent:
            return None
        if service == PRACTICE_PROTECT:
            return "Missing the Practice Protect connection: set %s (or the environment variables %s)." % (
                ", ".join(absent), ", ".join(name.upper() for name in absent))
        names = [name for name in absent if name in ("tenant_id", "client_id")]
        if names:
            return "Missing %s: set the option%s or the environment variable%s %s." % (
                " and ".join(names), "s" if len(names) > 1 else "", "s" if len(names) > 1 else "",
                " and ".join("M365_" + name.upper() for name in names))
        return "Give client_secret or client_certificate_path (or set M365_CLIENT_SECRET or M365_CLIENT_CERTIFICATE_PATH)."

    def _uses(self, service):
        """Fail unless the module declared ``service`` and its connection is complete (checked once, on first use)."""
        if service not in self.services:
            raise RuntimeError("this module does not talk to %s" % service)
        if service != self.services[0]:
            missing = self.missing(service)
            if missing:
                self.fail(_validation.ValidationError(missing))
            if service in M365_SERVICES and not _auth.HAS_MSAL:
                self.module.fail_json(msg=missing_required_lib("msal"))

    @property
    def session(self):
        if self._session is None:
            self.retry_stats = _http.RetryStats()
            self.throttle_gate = _http.ThrottleGate()
            try:
                self._session = _http.build_session(
                    ca_path=self.params["ca_path"], validate_certs=self.params["validate_certs"],
                    retry_deadline=self.params["retry_deadline"], stats=self.retry_stats, gate=self.throttle_gate)
            except _http.TransportError as exc:  # ca_path missing or unreadable: refused before any request
                self.fail(exc)
        return self._session

    @property
    def tokens(self):
        if self._tokens is None:
            p = self.params
            try:
                self._tokens = _auth.TokenProvider(
                    p["tenant_id"], p["client_id"], p["authority_url"], self.session,
                    client_secret=p["client_secret"], client_certificate_path=p["client_certificate_path"],
                    client_certificate_thumbprint=p["client_certificate_thumbprint"],
                    client_certificate_password=p["client_certificate_password"],
                    token_cache_path=p["token_cache_path"], timeout=p["request_timeout"])
            except _auth.AuthError as exc:
                self.fail(exc)
        return self._tokens

    @property
    def graph(self):
        if self._graph is None:
            self._uses(GRAPH)
            self._graph = GraphClient(self.session, self.tokens, graph_url=self.params["graph_url"], timeout=self.params["request_timeout"],
                                      replication_timeout=self.params.get("replication_timeout") or 120,
                                      retry_deadline=self.params["retry_deadline"])
        return self._graph

    @property
    def exchange(self):
        if self._exchange is None:
            self._uses(EXCHANGE)
            self._exchange = _exchange.client_for(self)
        return self._exchange

    @property
    def pp(self):
        if self._pp is None:
            self._uses(PRACTICE_PROTECT)
            p = self.params
            self._pp = _practice_protect.PracticeProtectClient(
                self.session, p["pp_url"], p["pp_app_id"], p["pp_client_id"], p["pp_client_secret"], scope=p["pp_scope"],
                timeout=p["request_timeout"], token_cache_path=p.get("pp_token_cache_path"), retry_deadline=p["retry_deadline"],
                stats=self.retry_stats)
        return self._pp

    def call_stats(self):
        """The counters of every result: retries, and the requests sent to each of the module's services."""
        stats = {"retries": self.retry_stats.count if self.retry_stats else 0}
        if GRAPH in self.services or EXCHANGE in self.services:
            graph = self._graph
            stats["graph_requests"] = graph.requests_sent if graph else 0
            stats["replication_waits"] = graph.replication_waits if graph else 0
            stats["retries"] += graph.batch_item_retries if graph else 0
            if graph is not None and graph.batched_calls:
                stats["graph_batched_calls"] = graph.batched_calls
        if EXCHANGE in self.services:
            stats["exchange_requests"] = self._exchange.requests_sent if self._exchange else 0
        if PRACTICE_PROTECT in self.services:
            stats["pp_requests"] = self._pp.requests_sent if self._pp else 0
        return stats

    def _warn_retries(self):
        if self.retry_stats and self.retry_stats.count and self.module._verbosity >= 3:
            for event in self.retry_stats.events:
                self.module.warn("Retried %s %s after %s." % (event["method"], event["url"], event["status"] or event["error"]))
        if self._exchange is not None:  # Exchange's warnings, once each
            for warning in self._exchange.warnings[self._warned:]:
                self.module.warn("Exchange Online: %s" % warning)
            self._warned = len(self._exchange.warnings)

    def exit(self, **result):
        self._warn_retries()
        result.update(self.call_stats())
        self.module.exit_json(**result)

    def describe(self, error):
        return describe_error(error, self.admin_rights)

    def fail(self, error, **result):
        """Fail with a sentence and the service's error fields. Never includes a credential."""
        self._warn_retries()
        result.update(self.call_stats())
        message, fields = self.describe(error)
        result.update(fields)
        self.module.fail_json(msg=message, **result)

    # -- one person or many ---------------------------------------------------------------------------

    def shared(self, name, make):
        """``make()``, made once per module run and kept as ``name``: a service whose reads serve every item of the task."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    @staticmethod
    def specs(build, params_list):
        """The specs ``build`` makes of the items whose options pass its checks; the others fail when they are planned."""
        out = []
        for params in params_list:
            try:
                out.append(build(params))
            except _validation.ValidationError:
                continue
        return out

    def require_no_log(self, option, what):
        """Fail before any call when ``option`` is set (on the task or on any of its ``items``) on a task without
        ``no_log``: ``what`` it returns would otherwise be printed by -v, kept in the AWX job log and shown by callbacks."""
        wanted = bool(self.params.get(option)) or any(isinstance(item, dict) and item.get(option) for item in self.params.get("items") or [])
        if wanted and not self.module.no_log and not self.check_mode:  # a check run returns no password
            self.module.fail_json(msg="%s: true returns %s, so set no_log: true on this task (and keep the registered variable out of "
                                      "debug output)." % (option, what), field=option)

    def run(self, plan, prefetch=None):
        """Run the module for one object (its own options) or for a list of them (``items``): the one way every module runs.

        ``plan(self, params)`` reads, validates and plans one object without writing and returns
        ``(result, apply)``: ``apply`` is None when nothing is to change, else a function that makes the
        calls and returns the final result. With ``items``, every item is first checked against the
        item spec given as ``items=(item_spec, key)`` to the constructor (bad options fail the task before any call), ``prefetch(self, params_list)`` may
        read everyone's state with list queries, then every item is planned, and only then are the plans
        applied: a person whose plan fails (bad input only visible against the tenant, a service error)
        is reported in ``outcomes`` and the others go on. Items inherit the module's own options as
        defaults (connection, shared settings) and override them with what they set.

        The plans are applied by a pool of ``workers`` threads; meanwhile their Graph calls are gathered
        into ``$batch`` requests (``GraphClient.batching``) and a 429 met by one worker holds them all
        for its ``Retry-After`` (``_http.ThrottleGate``).
        """
        items = self.params.get("items") if self.items is not None else None
        if items is None:
            done = self._guard(self._single, plan)
            if done.get("failed"):
                self._warn_retries()
                done.update(self.call_stats())
                self.module.fail_json(**done)
            self.exit(**done)
        item_spec, key = self.items
        if (self.params.get("workers") or 0) < 1:
            self.module.fail_json(msg="workers must be at least 1 (1 applies the items one after another).")
        params_list = self._item_params(items, item_spec, key)
        outcomes = {}
        pending = []
        if prefetch is not None and params_list:
            failure = self._guard(prefetch, self, params_list)
            if isinstance(failure, dict) and failure.get("failed"):  # a list read failed: nobody can be planned
                self._warn_retries()
                failure.update(self.call_stats())
                self.module.fail_json(**failure)
        for params in params_list:
            name = params[key].lower()
            planned = self._guard(plan, self, params)
            if isinstance(planned, dict):
                outcomes[name] = planned
                continue
            result, apply = planned
            outcomes[name] = result
            if apply is not None and not self.check_mode:
                pending.append((name, apply))
        self._apply_all(pending, outcomes)
        self._exit_items(outcomes)

    def _single(self, plan):
        result, apply = plan(self, self.params)
        if apply is not None and not self.check_mode:
            result = self._guard(apply)
        return result

    def _apply_all(self, pending, outcomes):
        workers = min(int(self.params.get("workers") or 1), len(pending))
        applied = self._on_workers(workers, self._guard, [apply for name, apply in pending])
        for (name, apply), result in zip(pending, applied):
            outcomes[name] = result

    def concurrently(self, func, values):
        """``func(value)`` for each of ``values`` on the pool ``run`` applies plans with (``workers`` threads, their Graph calls
        gathered into ``$batch`` requests, Exchange's calls within its own limit); returns ``[(result, error)]`` in the order of
        ``values``, ``error`` being the exception ``func`` raised for that value (then ``result`` is None), so that one value's
        failed read fails only what depends on it. For the per-person reads of a prefetch: build the clients ``func`` uses
        first (the Graph client must exist for its calls to be gathered)."""
        values = list(values)
        workers = min(int(self.params.get("workers") or APPLY_WORKERS), len(values))

        def one(value):
            try:
                return func(value), None
            except Exception as exc:  # kept for the caller, who raises it where the sequential read would have
                return None, exc
        return self._on_workers(workers, one, values)

    def _on_workers(self, workers, func, values):
        """``[func(value) for value in values]``, run by a pool of ``workers`` threads under the Graph client's ``batching``
        (one after another for fewer than two workers).

        Each thread takes the next value until none is left and counts as a worker of the batching from the start until then,
        not only while it runs one value: a batch then waits (up to its window) for the calls of every thread still at work,
        rather than leaving with the first call made after the last batch came back."""
        if workers <= 1 or ThreadPoolExecutor is None:
            return [func(value) for value in values]
        results = [None] * len(values)
        jobs = iter(enumerate(values))
        taking = threading.Lock()
        batching = self._graph.batching() if self._graph is not None else contextlib.nullcontext()
        with batching as coalescer:
            counted = [coalescer.worker() if coalescer is not None else contextlib.nullcontext() for dummy in range(workers)]
            for worker in counted:
                worker.__enter__()

            def work(worker):
                try:
                    while True:
                        with taking:
                            job = next(jobs, None)
                        if job is None:
                            return
                        results[job[0]] = func(job[1])
                finally:
                    worker.__exit__(None, None, None)
            pool = ThreadPoolExecutor(max_workers=workers)
            try:
                for future in [pool.submit(work, worker) for worker in counted]:
                    future.result()
            finally:
                pool.shutdown(wait=True)
        return results

    def _item_params(self, items, item_spec, key):
        """Check every item before any call; items inherit the module's own options."""
        spec = copy.deepcopy(item_spec)
        for name, option in spec.items():
            if name != key:
                option.pop("default", None)
                option.pop("required", None)
        validator = ArgumentSpecValidator(spec)
        out = []
        seen = set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.module.fail_json(msg="items[%d] is not a dictionary of options." % index)
            plain = [name for name, option in spec.items() if _model.is_list_option(option) and isinstance(item.get(name), list)]
            if plain:
                self.module.fail_json(msg="items[%d] (%s): %s" % (index, item.get(key, "?"), _model.plain_list_message(plain[0])))
            checked = validator.validate(item)
            self.module.no_log_values.update(checked._no_log_values)
            if checked.error_messages:
                self.module.fail_json(msg="items[%d] (%s): %s" % (index, item.get(key, "?"), "; ".join(checked.error_messages)))
            params = dict(self.params)
            params.pop("items", None)
            params.update(dict((k, val) for k, val in checked.validated_parameters.items() if k in spec and val is not None))
            if not params.get(key):
                self.module.fail_json(msg="items[%d] has no %s; give each item its %s." % (index, key, key))
            name = str(params[key]).lower()
            if name in seen:
                self.module.fail_json(msg="items lists %s twice; give each object once." % params[key])
            seen.add(name)
            out.append(params)
        return out

    def _guard(self, func, *args):
        """``func(*args)``, or the failure of one item as a result dict (the other items go on). The failure says
        ``changed`` when a write of this thread went through before it (a user created, then a licence refused)."""
        WRITES.done = False
        try:
            return func(*args)
        except self.error_types as exc:
            return self._item_failure(exc)
        except Exception as exc:
            if _http.HAS_REQUESTS and isinstance(exc, _http.requests.RequestException):
                return self._item_failure(_http.unreachable(exc))
            raise

    def _item_failure(self, error):
        message, fields = self.describe(error)
        failure = dict(fields, failed=True, changed=WRITES.done, msg=message)
        return failure

    def _exit_items(self, outcomes):
        failed = sorted(name for name, res in outcomes.items() if res.get("failed"))
        result = dict(changed=any(res.get("changed") for res in outcomes.values()), outcomes=outcomes, failed_items=failed)
        diffs = []
        for name in sorted(outcomes):
            diff = outcomes[name].pop("diff", None)
            if diff is not None:
                diffs.append(dict(diff, before_header=name, after_header=name))
        if diffs:
            result["diff"] = diffs
        if failed and self.params.get("fail_on_item_error", True):
            self._warn_retries()
            result.update(self.call_stats())
            self.module.fail_json(msg="%d of %d items failed: %s" % (len(failed), len(outcomes), "; ".join(
                "%s: %s" % (name, outcomes[name]["msg"]) for name in failed)), **result)
        self.exit(**result)


APPLY_WORKERS = 16

ITEMS_SPEC = dict(
    items=dict(type="list", elements="dict"),
    fail_on_item_error=dict(type="bool", default=True),
    workers=dict(type="int", default=APPLY_WORKERS),
)


def with_items(item_spec, key):
    """The module's argument spec: its own options (``key`` optional there) plus ``items``."""
    spec = copy.deepcopy(item_spec)
    spec[key].pop("required", None)
    spec.update(ITEMS_SPEC)
    return spec


def describe_error(error, admin_rights=()):
    """``(sentence, fields)`` for a failed call: the service's error code, status and request id."""
    if isinstance(error, _mail.SendMailError):  # its sentence was written for it
        return error.message, error.as_dict()
    if isinstance(error, _exchange.ExchangeError):
        return _exchange.describe(error)
    if isinstance(error, _practice_protect.PracticeProtectError):
        return _practice_protect.describe(error, admin_rights)
    if isinstance(error, GraphError):
        message = error.message
        if error.status == 403:
            allowed = _permissions.graph_permissions(error.method, error.path)
            message = ("%s The application lacks a Microsoft Graph permission for %s %s%s (or, where the user holds an admin role, "
                       "a directory role of its own); see docs/permissions.md." % (
                           message, error.method, error.path, " (any one of: %s)" % ", ".join(allowed) if allowed else ""))
        elif error.status == 401:
            message = "%s Check tenant_id, client_id and the credential." % message
        return message, error.as_dict()
    if isinstance(error, _auth.AuthError):
        return error.message, {"error_code": error.error_code, "request_id": error.request_id}
    if isinstance(error, _validation.ValidationError):
        return error.message, dict(getattr(error, "details", None) or {}, field=error.field)
    if isinstance(error, _http.TransportError):
        return error.message, {"error_code": error.kind}
    return "%s: %s" % (type(error).__name__, error), {}
