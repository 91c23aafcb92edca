# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the clients of Microsoft Graph, Exchange Online and Practice Protect share: one request loop and one waiter.

The request loop (``ServiceClient.send``) puts the service's bearer token on the request, fetches a fresh token once
after a 401 (a token expired or revoked mid-run), and sends again what the service's own rule says to send again
(``retry_delay``: a throttled ``$batch`` item, Exchange's per-tenant concurrency answer, a 500 on a read sent as POST),
within the run's retry deadline; the transport below it (``_http``) already retried 429, 503, 504 and resets. Each client
then decodes a failure into its service's error class (``GraphError``, ``ExchangeError``, ``PracticeProtectError``).

``wait_until`` is the one poll of the collection: replication lag after a write, a mailbox Exchange has not provisioned
yet, a conversion to a shared mailbox, a licence not yet visible to every reader, a provisioning job, users the sync has
not brought into Microsoft 365 yet. It backs off exponentially (with jitter where many workers poll at once) and stops at
its timeout, returning what it saw last so that the caller can say what is still missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import threading
import time

READ_ATTEMPTS = 4  # a 500 or 502 on a read sent as POST: this many tries in all
READ_BACKOFF = 0.5
_UNSET = object()


class _Writes(threading.local):
    done = False


# Whether the current thread's calls have written anything since ``WRITES.done`` was last set to False: a module whose
# plan failed half-way through its calls still reports the change it made.
WRITES = _Writes()


class Waited:
    """The outcome of ``wait_until``: ``value`` (the last probe's answer), ``done`` and ``polls`` (probes after the first)."""

    def __init__(self, value, done, polls):
        self.value = value
        self.done = done
        self.polls = polls


def wait_until(probe, timeout, done=bool, sleep=time.sleep, clock=time.monotonic, delay=1.0, max_delay=15.0, factor=2.0,
               jitter=0.0, seen=_UNSET):
    """Call ``probe()`` until ``done(value)`` or ``timeout`` seconds have passed; returns a ``Waited``.

    The first probe is made at once; then the wait between probes starts at ``delay`` and is multiplied by ``factor`` up to
    ``max_delay`` (``factor=1`` polls at a fixed interval), plus up to ``jitter`` times itself at random, and is cut so that
    the last probe falls on the timeout. A timeout of 0 probes once. ``seen``: what a read the caller already made found; the
    first probe then comes after the first wait.
    """
    started = clock()
    value = probe() if seen is _UNSET else seen
    polls = 0
    while not done(value):
        remaining = timeout - (clock() - started)
        if remaining <= 0:
            return Waited(value, False, polls)
        pause = delay + (random.uniform(0, delay * jitter) if jitter else 0.0)  # nosec - jitter, not security
        sleep(min(pause, remaining))
        polls += 1
        value = probe()
        delay = min(delay * factor, max_delay)
    return Waited(value, True, polls)


class ServiceClient:
    """Base of the three clients: the session, timeouts, the request count, the token and the request loop.

    A subclass gives ``authorization()`` (the header value), ``forget_token()`` and, where its service needs it,
    ``retry_delay()``; it decodes answers into its own error class.
    """

    def __init__(self, session, timeout=30, retry_deadline=300, stats=None, sleep=time.sleep, clock=time.monotonic):
        # (duplicates: same shape as the sandbox's Record.__init__, plain attribute assignments, nothing to fold)
        self.session = session
        self.timeout = timeout
        self.retry_deadline = retry_deadline
        self.stats = stats
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    # -- what a service defines ------------------------------------------------------------------------------------------

    def authorization(self):
        raise NotImplementedError

    def forget_token(self):
        raise NotImplementedError

    def retry_delay(self, method, url, response, attempt, read):
        """Seconds to wait before sending the call again, or None to keep ``response``. By default a 500 or 502 on a call that
        only reads (``read``) is sent again with backoff: the transport retries those answers for GET only."""
        if read and response.status_code in (500, 502) and attempt + 1 < READ_ATTEMPTS:
            return READ_BACKOFF * (2 ** (attempt + 1)) + random.uniform(0, READ_BACKOFF)  # nosec - jitter, not security
        return None

    def retrying(self, method, url, response):
        """Called before a call is sent again (a client counts its own kinds of retry here)."""

    def pause(self, seconds):
        self.sleep(seconds)

    # -- the request loop ------------------------------------------------------------------------------------------------

    def count(self, n=1):
        with self._count_lock:
            self.requests_sent += n

    def send_once(self, method, url, headers=None, **kwargs):
        """One call with the bearer token; after a 401 the token is dropped and the call sent once more with a fresh one."""
        for attempt in (1, 2):
            all_headers = {"Authorization": self.authorization(), "Accept": "application/json"}
            all_headers.update(headers or {})
            self.count()
            response = self.session.request(method, url, headers=all_headers, timeout=self.timeout, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self.forget_token()  # expired or revoked mid-run: one fresh token, then give up
                continue
            return response
        return response  # pragma: no cover - the loop always returns

    def send(self, method, url, headers=None, read=None, transmit=None, **kwargs):
        """The call, sent again while ``retry_delay`` asks for it and the retry deadline allows; returns the last response.

        ``read``: the call only reads (a GET, or a POST that reads), so an answer that may follow a done write can be
        repeated. ``transmit(method, url, headers, **kwargs)`` replaces ``send_once`` (Graph's ``$batch`` gathering)."""
        if read is None:
            read = method.upper() in ("GET", "HEAD", "OPTIONS")
        transmit = transmit or self.send_once
        started = self.clock()
        attempt = 0
        while True:
            response = transmit(method, url, headers=headers, **kwargs)
            delay = self.retry_delay(method, url, response, attempt, read)
            if delay is None or self.clock() + delay - started > self.retry_deadline:
                if not read and response.status_code < 400:
                    WRITES.done = True
                return response
            attempt += 1
            self.retrying(method, url, response)
            if self.stats is not None:
                self.stats.record(method, url, response.status_code, None)
            self.pause(delay)
