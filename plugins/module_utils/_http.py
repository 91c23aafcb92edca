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

What retrying cannot mend is not retried: a certificate the CA bundle does not trust, a host name DNS does not know and a
port that refuses connections fail at once, each named as what it is (``TransportError``, ``explain``); a CA file that is
missing or unreadable is refused before the first request. Connection resets and timeouts are retried as before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import os
import ssl
import threading
import time

# (duplicates: the import guard ansible-test asks around each optional library; the module then names the missing one)
try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
    from urllib3.exceptions import SSLError as Urllib3SSLError
    from urllib3.util.retry import Retry
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    Retry = object

# The environment variables of each service's transport options (``ca_path``, ``validate_certs``, ...): a module reads those of
# the service it talks to; a module that talks to both reads Microsoft 365's first, then Practice Protect's.
SERVICE_ENV_PREFIX = {"m365": "M365_", "practice_protect": "PP_"}

RETRY_STATUSES = (429, 503, 504)
READ_RETRY_STATUSES = (500, 502)  # retried for safe methods only: on a write the service may have acted before failing
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
SINGLE_ATTEMPT_STATUSES = (429, 503)  # answers that say the request was not acted on: retried even for single attempts
USER_AGENT = "practiceprotect.m365-ansible"
POOL_SIZE = 32  # connections per host: at least the apply workers of a module run (see _module.Module.run)


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
        if error is not None and failure_kind(error) is not None:
            raise MaxRetryError(_pool, url, error)  # no retry mends an untrusted certificate, an unknown host or a closed port
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


class TransportError(Exception):
    """A request could not be made for a reason retrying cannot mend, named: ``kind`` is ``tls`` (the certificate is not
    trusted), ``ca_file`` (ca_path missing, unreadable or without a certificate), ``dns`` (unknown host) or ``refused``."""

    def __init__(self, message, kind=None):
        super(TransportError, self).__init__(message)
        self.message = message
        self.kind = kind


def failure_kind(error):
    """``tls``, ``dns`` or ``refused`` when ``error`` (a urllib3, requests or socket error, or one caused by such) is one
    that retrying cannot mend; None for the others (resets, timeouts, an interrupted handshake)."""
    seen = 0
    while error is not None and seen < 8:
        seen += 1
        if isinstance(error, ssl.SSLCertVerificationError) or type(error).__name__ == "CertificateError":
            return "tls"
        if isinstance(error, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(error):
            return "tls"
        if HAS_REQUESTS and isinstance(error, NameResolutionError):
            return "dns"
        if isinstance(error, ConnectionRefusedError) or (isinstance(error, OSError) and getattr(error, "errno", None) == errno.ECONNREFUSED):
            return "refused"
        if HAS_REQUESTS and isinstance(error, NewConnectionError) and "refused" in str(error).lower():
            return "refused"
        nested = getattr(error, "reason", None)
        if nested is None and HAS_REQUESTS and isinstance(error, Urllib3SSLError) and error.args:
            nested = error.args[0] if isinstance(error.args[0], BaseException) else None
        if nested is None and error.args and isinstance(error.args[0], BaseException):
            nested = error.args[0]  # requests wraps urllib3's MaxRetryError as its first argument
        error = nested if nested is not None and nested is not error else (error.__cause__ or error.__context__)
    return None


def explain(exc, url=None, service="the service"):
    """A sentence for a request that failed after the transport gave up: what went wrong and what to check."""
    target = url or getattr(getattr(exc, "request", None), "url", None) or ""
    parsed = urlparse(target)
    where = "%s://%s" % (parsed.scheme, parsed.netloc) if parsed.netloc else service
    kind = failure_kind(exc)
    if kind == "tls":
        return TransportError(
            "TLS verification failed for %s: its certificate is not trusted by the CA bundle in use (%s). Give the CA that signed it "
            "with ca_path (M365_CA_PATH or PP_CA_PATH), or check that the URL names the intended server." % (where, _reason(exc)), kind)
    if kind == "dns":
        return TransportError("Cannot resolve the host of %s (DNS): check the URL option (authority_url, graph_url, exchange_url or "
                              "pp_url), a proxy setting, and this machine's DNS." % where, kind)
    if kind == "refused":
        return TransportError("%s refused the connection: nothing listens there. Check the URL option (authority_url, graph_url, "
                              "exchange_url or pp_url) and any proxy setting." % where, kind)
    return None


def short(exc):
    """The text of a requests error without urllib3's "(Caused by ...)" tail."""
    text = str(exc)
    return text.split("(Caused by", 1)[0].strip() if "(Caused by" in text else text


def unreachable(exc, url=None, service="the service"):
    """The error to report for a request the transport gave up on: a named ``TransportError``."""
    return explain(exc, url, service) or TransportError("Cannot reach %s after retrying: %s" % (service, short(exc)), "unreachable")


def _reason(exc):
    text = str(exc)
    for marker in ("certificate verify failed", "CERTIFICATE_VERIFY_FAILED", "hostname"):
        start = text.find(marker)
        if start >= 0:
            return text[start:].split(")", 1)[0].split("'", 1)[0].strip()
    return type(exc).__name__


def check_ca_file(path):
    """Refuse a ``ca_path`` that cannot serve before any request: missing, unreadable, or without a PEM certificate."""
    if not os.path.exists(path):
        raise TransportError("ca_path %s does not exist: give the PEM file of the CA to trust (M365_CA_PATH or PP_CA_PATH)." % path,
                             "ca_file")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except (IOError, OSError) as exc:
        raise TransportError("ca_path %s cannot be read (%s)." % (path, exc.strerror or exc), "ca_file")
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise TransportError("ca_path %s holds no usable PEM certificate (%s)." % (path, getattr(exc, "reason", None) or exc), "ca_file")


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
        check_ca_file(ca_path)
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


def retried(response):
    """True when urllib3 had to retry to obtain ``response`` (the request may have run twice)."""
    raw = getattr(response, "raw", None)
    history = getattr(getattr(raw, "retries", None), "history", None)
    return bool(history)
