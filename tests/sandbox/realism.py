"""Realism knobs: latency, replication lag (applied in state.py), throttling, fault injection, token lifetime.

All knobs but Exchange's concurrency limit are off by default; they are set through ``PATCH /_sandbox/config``.
Throttling follows the published identity-and-access limits of Graph's throttling docs: a resource-unit (RU) token bucket
and a write bucket per app and tenant. ``time_scale`` multiplies the windows so tests can see a bucket refill quickly.
"""

import asyncio
import copy
import math
import random
import re
import time

DEFAULT_CONFIG = {
    "latency_ms": 0,
    "replication_lag_s": 0,
    "throttle": {
        "enabled": False,
        "time_scale": 1.0,
        "write_limit": 3000,      # writes per app + tenant ...
        "write_window_s": 150,    # ... per 2 min 30 s
        "ru_limit": None,         # None: by tenant size, see ru_limit_for()
        "ru_window_s": 10,
    },
    "faults": [],
    "token_lifetime_s": 3599,
    # Seconds a token is really honoured (None: until it expires); shorter than token_lifetime_s, a client's cached
    # token is refused mid-run although its expires_in said it was still good (auth.py, pp.py).
    "token_valid_s": None,
    # Exchange (exchange_state.py): seconds until a licensed user's mailbox exists, and until a type conversion shows.
    "mailbox_provisioning_delay_s": 0,
    "shared_conversion_delay_s": 0,
    # Exchange (exchange.py): InvokeCommand calls the tenant may have in flight at once (None: no limit); one more is answered
    # "You have reached the maximum number of concurrent requests per tenant" (reference section 13). Unlike the other knobs it
    # is on by default, at a plausible value (UNCONFIRMED: Microsoft publishes no number; 4 is the documented concurrency limit
    # of Exchange's Outlook APIs per app and mailbox, and app-only admin calls are all anchored on one system mailbox).
    "exchange_max_concurrency": 4,
    # Practice Protect (pp_provisioning.py): seconds a provisioning job runs, and the delay of the automatic sync
    # queued by a role membership change.
    "pp_sync_duration_s": 0,
    "pp_auto_sync_delay_s": 60,
    # Practice Protect (pp_state.py, pp.py): "default", or "real_tenant_variants", the tenant that answers where public sources
    # show other answers or none (reference practice_protect.md section 12): see PP_PROFILES.
    "pp_profile": "default",
    # Practice Protect (pp.py): whether the tenant serves this project's job API (reference section 11; UNCONFIRMED as a whole).
    # False, or the real_tenant_variants profile, answers its paths 404 like any unknown path: a tenant without the job API.
    "pp_job_api": True,
    # Practice Protect (pp_methods.py): how the Office 365 app provisions, "service_account" (the older method: attribute aliases,
    # licence from the sync) or "token" (token-based: an Entra ID app registration; Microsoft 365 owns aliases and licences).
    "pp_provisioning_method": "service_account",
}
PP_PROVISIONING_METHODS = ("service_account", "token")
PP_PROFILES = ("default", "real_tenant_variants")

FAULT_KINDS = ("status", "reset_before", "reset_after")
FAULT_STATUSES = (429, 500, 502, 503, 504)
SERVICES = ("login", "graph", "exchange", "pp")


def default_config():
    return copy.deepcopy(DEFAULT_CONFIG)


def ru_limit_for(user_count):
    """RU per window for an app + tenant pair by tenant size: S (<50 users), M (50-500), L (>500)."""
    if user_count < 50:
        return 3500
    if user_count <= 500:
        return 5000
    return 8000


def _number(name, value, minimum=0.0, integer=False, exclusive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s must be a number" % name)
    if integer and int(value) != value:
        raise ValueError("%s must be an integer" % name)
    if value < minimum or (exclusive and value == minimum):
        raise ValueError("%s must be %s %s" % (name, ">" if exclusive else ">=", minimum))
    return int(value) if integer else value


def _check_fault(index, rule):
    name = "faults[%d]" % index
    if not isinstance(rule, dict):
        raise ValueError("%s must be an object" % name)
    unknown = set(rule) - {"path", "method", "service", "kind", "status", "retry_after", "rate", "count", "seed"}
    if unknown:
        raise ValueError("%s has unknown keys: %s" % (name, ", ".join(sorted(unknown))))
    rule = dict(rule)
    rule.setdefault("path", "")
    if not isinstance(rule["path"], str):
        raise ValueError("%s.path must be a regular expression" % name)
    try:
        re.compile(rule["path"])
    except re.error as exc:
        raise ValueError("%s.path is not a valid regular expression: %s" % (name, exc))
    if rule.get("kind") not in FAULT_KINDS:
        raise ValueError("%s.kind must be one of %s" % (name, ", ".join(FAULT_KINDS)))
    if rule["kind"] == "status":
        if rule.get("status") not in FAULT_STATUSES:
            raise ValueError("%s.status must be one of %s" % (name, ", ".join(map(str, FAULT_STATUSES))))
    if rule.get("method") is not None:
        if not isinstance(rule["method"], str):
            raise ValueError("%s.method must be an HTTP method" % name)
        rule["method"] = rule["method"].upper()
    if rule.get("service") is not None and rule["service"] not in SERVICES:
        raise ValueError("%s.service must be one of %s" % (name, ", ".join(SERVICES)))
    if rule.get("retry_after") is not None:
        rule["retry_after"] = _number(name + ".retry_after", rule["retry_after"], integer=True)
    rule["rate"] = _number(name + ".rate", rule.get("rate", 1.0))
    if rule["rate"] > 1:
        raise ValueError("%s.rate must be between 0 and 1" % name)
    if rule.get("count") is not None:
        rule["count"] = _number(name + ".count", rule["count"], minimum=1, integer=True)
    rule["seed"] = rule.get("seed", 0)
    if isinstance(rule["seed"], bool) or not isinstance(rule["seed"], (int, str)):
        raise ValueError("%s.seed must be an integer or a string" % name)
    return rule


def merge_config(current, patch):
    """A new config: `patch` merged into `current` (throttle merged key by key, faults replaced). ValueError if invalid."""
    if not isinstance(patch, dict):
        raise ValueError("the config must be a JSON object")
    unknown = set(patch) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
    new = copy.deepcopy(current)
    for key, value in patch.items():
        if key == "throttle":
            if not isinstance(value, dict):
                raise ValueError("throttle must be an object")
            extra = set(value) - set(DEFAULT_CONFIG["throttle"])
            if extra:
                raise ValueError("unknown throttle keys: %s" % ", ".join(sorted(extra)))
            new["throttle"].update(value)
        elif key == "faults":
            if not isinstance(value, list):
                raise ValueError("faults must be a list")
            new["faults"] = [_check_fault(index, rule) for index, rule in enumerate(value)]
        else:
            new[key] = value
    _number("latency_ms", new["latency_ms"])
    _number("replication_lag_s", new["replication_lag_s"])
    _number("token_lifetime_s", new["token_lifetime_s"], minimum=1, integer=True)
    if new["token_valid_s"] is not None:
        _number("token_valid_s", new["token_valid_s"], exclusive=True)
    _number("mailbox_provisioning_delay_s", new["mailbox_provisioning_delay_s"])
    _number("shared_conversion_delay_s", new["shared_conversion_delay_s"])
    if new["exchange_max_concurrency"] is not None:
        _number("exchange_max_concurrency", new["exchange_max_concurrency"], minimum=1, integer=True)
    _number("pp_sync_duration_s", new["pp_sync_duration_s"])
    _number("pp_auto_sync_delay_s", new["pp_auto_sync_delay_s"])
    if not isinstance(new["pp_job_api"], bool):
        raise ValueError("pp_job_api must be true or false")
    if new["pp_profile"] not in PP_PROFILES:
        raise ValueError("pp_profile must be one of %s" % ", ".join(PP_PROFILES))
    if new["pp_provisioning_method"] not in PP_PROVISIONING_METHODS:
        raise ValueError("pp_provisioning_method must be one of %s" % ", ".join(PP_PROVISIONING_METHODS))
    throttle = new["throttle"]
    if not isinstance(throttle["enabled"], bool):
        raise ValueError("throttle.enabled must be true or false")
    _number("throttle.time_scale", throttle["time_scale"], exclusive=True)
    _number("throttle.write_limit", throttle["write_limit"], minimum=1, integer=True)
    _number("throttle.write_window_s", throttle["write_window_s"], exclusive=True)
    _number("throttle.ru_window_s", throttle["ru_window_s"], exclusive=True)
    if throttle["ru_limit"] is not None:
        _number("throttle.ru_limit", throttle["ru_limit"], minimum=1, integer=True)
    return new


def fault_retry_after(rule, config):
    """The Retry-After (whole seconds, as the header carries them) of a fault rule: its retry_after scaled by
    throttle.time_scale, rounded up, so that a storm of 30 s answers stays short in tests. None when the rule has none."""
    if rule.get("retry_after") is None:
        return None
    scale = float(((config or {}).get("throttle") or {}).get("time_scale") or 1.0)
    return int(math.ceil(rule["retry_after"] * scale - 1e-9))


def token_refused(issued_at, now, config):
    """True when a token issued at `issued_at` is past the token_valid_s knob (its real validity) at `now`."""
    valid = (config or {}).get("token_valid_s")
    return valid is not None and now - issued_at >= float(valid)


class TokenBucket:
    """Capacity `limit`, refilled continuously at limit / window tokens per second."""

    def __init__(self, limit, window_s, clock):
        self.clock = clock
        self.limit = float(limit)
        self.rate = float(limit) / float(window_s)
        self.tokens = float(limit)
        self.stamp = clock()

    def _refill(self):
        now = self.clock()
        self.tokens = min(self.limit, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, cost):
        """Seconds until `cost` tokens are available (0 if they are now)."""
        self._refill()
        cost = min(cost, self.limit)
        if self.tokens >= cost:
            return 0.0
        return (cost - self.tokens) / self.rate

    def take(self, cost):
        self._refill()
        self.tokens -= min(cost, self.limit)

    def used(self):
        self._refill()
        return 1.0 - self.tokens / self.limit


class Throttle:
    """The outcome of charging one request."""

    def __init__(self, headers, retry_after=None, scope=None, information=None):
        self.headers = headers
        self.retry_after = retry_after
        self.scope = scope
        self.information = information

    @property
    def limited(self):
        return self.retry_after is not None


class Realism:
    """Per-process realism state: throttling buckets and fault rule counters, driven by tenant.config."""

    def __init__(self, tenant, clock=time.monotonic):
        self.tenant = tenant
        self.clock = clock
        self.reset()

    def reset(self):
        self.ru_buckets = {}
        self.write_buckets = {}
        self.bucket_key = None
        self.fault_states = None
        self.fault_rules = None

    @property
    def config(self):
        return self.tenant.config

    def configure(self, patch):
        """Merge a config patch (ValueError if invalid); buckets and fault counters restart when their knobs change."""
        new = merge_config(self.config, patch)
        if new["faults"] == self.config["faults"]:
            new["faults"] = self.config["faults"]  # same list object: the rules keep their counters
        self.tenant.config = new
        return new

    # Latency ---------------------------------------------------------------------------------------------------

    async def delay(self):
        latency = float(self.config.get("latency_ms") or 0)
        if latency > 0:
            await asyncio.sleep(latency / 1000.0)

    # Faults ----------------------------------------------------------------------------------------------------

    def pick_fault(self, service, method, path):
        """The fault rule that fires for this request, or None. Rules are tried in order; each keeps its own counter."""
        rules = self.config.get("faults") or []
        if not rules:
            return None
        if self.fault_states is None or self.fault_rules is not rules:
            self.fault_rules = rules
            self.fault_states = [{"regex": re.compile(rule["path"]), "matched": 0, "rng": random.Random(rule.get("seed", 0))}
                                 for rule in rules]
        for rule, state in zip(rules, self.fault_states):
            if rule.get("service") and rule["service"] != service:
                continue
            if rule.get("method") and rule["method"] != method.upper():
                continue
            if not state["regex"].search(path):
                continue
            state["matched"] += 1
            if rule.get("count") is not None and state["matched"] > rule["count"]:
                continue
            if state["rng"].random() < rule.get("rate", 1.0):
                return rule
        return None

    # Throttling ------------------------------------------------------------------------------------------------

    def charge(self, app_id, cost, write):
        """Charge one Graph request to the app + tenant buckets; Throttle.limited when it must get a 429."""
        headers = {"x-ms-resource-unit": str(cost)}
        settings = self.config["throttle"]
        if not settings.get("enabled"):
            return Throttle(headers)
        scale = float(settings["time_scale"])
        ru_limit = settings["ru_limit"] or ru_limit_for(self.tenant.active_user_count())
        key = (ru_limit, settings["ru_window_s"], settings["write_limit"], settings["write_window_s"], scale)
        if key != self.bucket_key:
            self.ru_buckets, self.write_buckets, self.bucket_key = {}, {}, key
        app = app_id or "anonymous"
        ru = self.ru_buckets.get(app)
        if ru is None:
            ru = self.ru_buckets[app] = TokenBucket(ru_limit, settings["ru_window_s"] * scale, self.clock)
        writes = None
        if write:
            writes = self.write_buckets.get(app)
            if writes is None:
                writes = self.write_buckets[app] = TokenBucket(settings["write_limit"], settings["write_window_s"] * scale, self.clock)
        ru_wait = ru.wait_for(cost)
        write_wait = writes.wait_for(1) if writes is not None else 0.0
        scope_base = "/%s/%s" % (app, self.tenant.tenant_id)
        if ru_wait > 0 or write_wait > 0:
            retry_after = max(1, int(math.ceil(max(ru_wait, write_wait))))
            if write_wait >= ru_wait:
                scope, information = "Tenant_Application/Write" + scope_base, "WriteLimitExceeded"
            else:
                scope, information = "Tenant_Application/%s%s" % ("ReadWrite" if write else "Read", scope_base), "ResourceUnitLimitExceeded"
            headers["x-ms-throttle-limit-percentage"] = "%.1f" % max(1.0, ru.used(), writes.used() if writes else 0.0)
            return Throttle(headers, retry_after=retry_after, scope=scope, information=information)
        ru.take(cost)
        if writes is not None:
            writes.take(1)
        used = max(ru.used(), writes.used() if writes is not None else 0.0)
        if used > 0.8:
            headers["x-ms-throttle-limit-percentage"] = "%.1f" % used
        return Throttle(headers)
