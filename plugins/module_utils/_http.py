# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP plumbing shared by every client of the collection.

One ``requests.Session`` per module run, TLS verified (optionally against a private CA), explicit
timeouts, and retries in one place: 429, 503 and 504 answers and connection errors are retried,
honouring ``Retry-After`` when the service sends one and otherwise backing off exponentially with
jitter, all under a deadline; 500 and 502 are retried for reads only (a write may have been done).
The retry engine is urllib3's ``Retry``; this module only adds the deadline and keeps a count of
every retry so that modules can report it. Calls that must not be sent twice (an invitation, a
message) go through ``PinnedSession.single_attempt()``: a connection dropped after the request was
sent is then reported instead of repeated, and the caller finds out whether the service acted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import random
import threading
import time

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    Retry = object

RETRY_STATUSES = (429, 503, 504)
READ_RETRY_STATUSES = (500, 502)  # retried for safe methods only: on a write the service may have acted before failing
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
SINGLE_ATTEMPT_STATUSES = (429, 503)  # answers that say the request was not acted on: retried even for single attempts
USER_AGENT = "practiceprotect.m365-ansible"
POOL_SIZE = 32  # connections per host: at least the apply workers of a module run (see _module.ModuleBase.run_items)


class DeadlineRetry(Retry):
    """urllib3 ``Retry`` that also gives up once a wall-clock deadline would be passed.

    The deadline starts with the first failure of a request, so one slow request does not eat the
    budget of the next. ``Retry-After`` is honoured for 429 and 503; other retries back off
    exponentially with jitter (``backoff_factor``, ``backoff_jitter``, ``backoff_max``).
    """

    def __init__(self, *args, **kwargs):
        self.deadline_seconds = kwargs.pop("deadline_seconds", None)
        self.started = kwargs.pop("started", None)
        self.on_retry = kwargs.pop("on_retry", None)
        self.gate = kwargs.pop("gate", None)
        super(DeadlineRetry, self).__init__(*args, **kwargs)

    def new(self, **kwargs):
        params = super(DeadlineRetry, self).new(**kwargs)
        params.deadline_seconds = self.deadline_seconds
        params.started = self.started
        params.on_retry = self.on_retry
        params.gate = self.gate
        return params

    def is_retry(self, method, status_code, has_retry_after=False):
        if status_code in READ_RETRY_STATUSES and self.status_forcelist and set(READ_RETRY_STATUSES) <= set(self.status_forcelist):
            return (method or "").upper() in SAFE_METHODS
        return super(DeadlineRetry, self).is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        started = self.started if self.started is not None else time.monotonic()
        new_retry = super(DeadlineRetry, self).increment(method, url, response, error, _pool, _stacktrace)
        new_retry.started = started
        if self.deadline_seconds is not None:
            delay = None
            if response is not None:
                delay = new_retry.get_retry_after(response)
            if delay is None:
                delay = new_retry.get_backoff_time()
            if time.monotonic() + delay - started > self.deadline_seconds:
                raise MaxRetryError(_pool, url, error or "retry deadline of %ss reached" % self.deadline_seconds)
        if self.gate is not None and response is not None and response.status == 429:
            self.gate.hold(new_retry.get_retry_after(response) or new_retry.get_backoff_time())
        if self.on_retry is not None:
            status = response.status if response is not None else None
            self.on_retry(method, url, status, type(error).__name__ if error is not None else None)
        return new_retry


class RetryStats:
    """Counts the retries of one module run; modules return ``retries`` and warn at -vvv."""

    def __init__(self):
        self.count = 0
        self.events = []

    def record(self, method, url, status, error):
        self.count += 1
        if len(self.events) < 50:
            self.events.append({"method": method, "url": _strip_query(url), "status": status, "error": error})


class ThrottleGate:
    """What one throttled answer tells every worker of a module run: the service's ``Retry-After`` holds
    all requests of the session until it has passed, so that a worker pool slows down as one client
    instead of each worker meeting its own 429."""

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.until = 0.0
        self.holds = 0
        self.lock = threading.Lock()

    def hold(self, seconds):
        with self.lock:
            self.holds += 1
            self.until = max(self.until, self.clock() + max(0.0, float(seconds or 0)))

    def wait(self):
        remaining = self.until - self.clock()
        if remaining > 0:
            self.sleep(remaining)


def _strip_query(url):
    return (url or "").split("?", 1)[0]


if HAS_REQUESTS:
    class PinnedSession(requests.Session):
        """A session whose own ``verify`` wins over ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.

        requests lets those environment variables override ``Session.verify`` (psf/requests#3829),
        which would silently drop ``ca_path`` or ``validate_certs: false`` on machines that set them.
        Proxies and other environment settings are still honoured.
        """

        gate = None
        single_adapter = None

        def __init__(self):
            super(PinnedSession, self).__init__()
            self._local = threading.local()

        @contextlib.contextmanager
        def single_attempt(self):
            """Requests made by this thread inside the block are sent once: a connection reset or a read timeout after
            the request went out raises ``requests.ConnectionError`` instead of sending it again (429 and 503, which say
            the service did nothing, are still retried)."""
            before = getattr(self._local, "single", False)
            self._local.single = True
            try:
                yield
            finally:
                self._local.single = before

        def get_adapter(self, url):
            if self.single_adapter is not None and getattr(self._local, "single", False):
                return self.single_adapter
            return super(PinnedSession, self).get_adapter(url)

        def request(self, method, url, *args, **kwargs):
            if self.gate is not None:
                self.gate.wait()
            return super(PinnedSession, self).request(method, url, *args, **kwargs)

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            settings = super(PinnedSession, self).merge_environment_settings(url, proxies, stream, verify, cert)
            if (verify is None or verify is True) and self.verify is not True:
                settings["verify"] = self.verify
            return settings


def build_session(ca_path=None, validate_certs=True, retry_deadline=300, backoff_factor=0.5, stats=None, retry_total=12, gate=None):
    """A session with pooled connections, TLS verification and the retry policy mounted; ``gate`` (a
    ``ThrottleGate``) makes every request of the session wait out a 429 any of them met."""
    session = PinnedSession()
    session.gate = gate
    session.headers["User-Agent"] = USER_AGENT
    if not validate_certs:
        session.verify = False
    elif ca_path:
        session.verify = ca_path
    retry = DeadlineRetry(
        total=retry_total,
        connect=retry_total,
        read=retry_total,
        status=retry_total,
        status_forcelist=RETRY_STATUSES + READ_RETRY_STATUSES,
        allowed_methods=None,  # every method: writes are made idempotent by the callers (see single_attempt for the others)
        backoff_factor=backoff_factor,
        backoff_max=30,
        backoff_jitter=0.5,
        respect_retry_after_header=True,
        raise_on_status=False,
        deadline_seconds=retry_deadline,
        on_retry=stats.record if stats is not None else None,
        gate=gate,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.single_adapter = HTTPAdapter(max_retries=retry.new(read=0, other=0, status_forcelist=SINGLE_ATTEMPT_STATUSES),
                                         pool_connections=4, pool_maxsize=POOL_SIZE)
    return session


@contextlib.contextmanager
def single_attempt(session):
    """``session.single_attempt()`` when the session has it (a plain ``requests.Session`` in tests does not)."""
    method = getattr(session, "single_attempt", None)
    if method is None:
        yield
    else:
        with method():
            yield


def send_read(send, sleep=None, attempts=4, backoff=0.5):
    """``send()`` (a POST that only reads: an Exchange ``Get-`` cmdlet, a Redrock query) again while it answers 500 or
    502, with exponential backoff and jitter; the transport retries those answers for GET only."""
    sleep = sleep or time.sleep
    response = send()
    for attempt in range(1, attempts):
        if response.status_code not in READ_RETRY_STATUSES:
            break
        sleep(backoff * (2 ** attempt) + random.uniform(0, backoff))  # nosec - jitter, not security
        response = send()
    return response


def retried(response):
    """True when urllib3 had to retry to obtain ``response`` (the request may have run twice)."""
    raw = getattr(response, "raw", None)
    history = getattr(getattr(raw, "retries", None), "history", None)
    return bool(history)
