# -*- coding: utf-8 -*-
"""What the sandbox knows to be secret, and its request log, as append-only JSON-lines files for the secret scan.

- ``secrets.jsonl``: one ``{"kind", "value", "where"}`` per secret the sandbox issues or receives: client secrets of
  the apps it registers, the private keys of certificate apps (the whole PEM and each base64 line of its body),
  Practice Protect OAuth client secrets, passwords it generates, and every password that arrives in a request body
  (Graph ``passwordProfile.password``, Practice Protect ``Password`` / ``newPassword`` / ``confirmPassword``, also
  inside ``$batch`` bodies).
- ``requests.jsonl``: the request log entries as ``GET /_sandbox/log`` shows them, written once the request is
  answered. The token endpoints (login ``/oauth2/v2.0/token``, Practice Protect ``/oauth2/token/...``) are the auth
  part of the traffic and are left out; no entry ever holds an Authorization header.

Both go to the sandbox's state dir and, when ``SANDBOX_SECRETS_FILE`` / ``SANDBOX_REQUEST_LOG_FILE`` are set in the
sandbox's environment, to those files too, so that a scan can read them after the sandbox is gone
(``python -m tests.tools.secret_scan``). One sandbox per process (``python -m tests.sandbox serve``):
``configure(state_dir)`` sets where this process writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextvars
import json
import os
import threading

SECRETS_FILE = "secrets.jsonl"
REQUESTS_FILE = "requests.jsonl"
SECRETS_ENV = "SANDBOX_SECRETS_FILE"
REQUESTS_ENV = "SANDBOX_REQUEST_LOG_FILE"

# Shorter values are not recorded: a scan for a string of a few characters would match ordinary words and numbers in
# any log (false hits that hide real ones), and no real credential is that short (the sandbox's password policies,
# like Microsoft's and Practice Protect's, ask for at least 8 characters).
MIN_LENGTH = 8

# Keys whose string value is a password, compared in lower case, at any depth of a JSON body. Exact names only:
# "passwordPolicies" or "PasswordNeverExpire" hold settings, not secrets.
PASSWORD_KEYS = frozenset(["password", "newpassword", "confirmpassword", "oldpassword", "currentpassword"])

# A base64 line of a PEM body shorter than this is the last line of the key, too short to be distinctive.
MIN_PEM_LINE = 40


def is_token_endpoint(path):
    """The login and Practice Protect token endpoints: their traffic is the auth part, never written to requests.jsonl."""
    path = (path or "").rstrip("/")
    return path.endswith("/oauth2/v2.0/token") or path.startswith("/oauth2/token/")


class JsonLines:
    """Append JSON records, one a line, to one or more files (directories are created)."""

    def __init__(self, paths):
        self.paths = [os.path.abspath(path) for path in paths if path]
        self.lock = threading.Lock()

    def append(self, record):
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self.lock:
            for path in self.paths:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "a") as handle:
                    handle.write(line)


class SecretLog:
    """The two writers of one sandbox: secrets and request log entries."""

    def __init__(self, state_dir=None, environ=None):
        environ = os.environ if environ is None else environ
        self.secrets = JsonLines([state_dir and os.path.join(state_dir, SECRETS_FILE), environ.get(SECRETS_ENV)])
        self.requests = JsonLines([state_dir and os.path.join(state_dir, REQUESTS_FILE), environ.get(REQUESTS_ENV)])
        self.seen = set()

    def record(self, kind, value, where):
        """Record a secret once (same kind and value); returns the value, so a call can wrap an expression."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or len(value) < MIN_LENGTH or (kind, value) in self.seen:
            return value
        self.seen.add((kind, value))
        self.secrets.append({"kind": kind, "value": value, "where": where})
        return value

    def record_private_key(self, key_pem, where):
        """A PEM private key: the whole text and each base64 line of its body long enough to be distinctive."""
        text = key_pem.decode("ascii", "replace") if isinstance(key_pem, bytes) else key_pem
        self.record("certificate_key", text, where)
        for line in text.splitlines():
            line = line.strip()
            if len(line) >= MIN_PEM_LINE and not line.startswith("-----"):
                self.record("certificate_key_line", line, where)
        return key_pem

    def record_passwords(self, body, where):
        """Every password in a decoded JSON body (any depth: $batch bodies carry sub-request bodies)."""
        if isinstance(body, dict):
            for key, value in body.items():
                if isinstance(key, str) and key.lower() in PASSWORD_KEYS and isinstance(value, str):
                    self.record("password", value, "%s: %s" % (where, key))
                else:
                    self.record_passwords(value, where)
        elif isinstance(body, list):
            for item in body:
                self.record_passwords(item, where)

    def record_request(self, entry):
        if not is_token_endpoint(entry.get("path")):
            self.requests.append(entry)


_current = SecretLog()
_pending = contextvars.ContextVar("sandbox_log_entries", default=None)


def configure(state_dir, environ=None):
    """Write this process's records to ``state_dir`` (and the env var files); returns the new SecretLog."""
    global _current
    _current = SecretLog(state_dir, environ)
    return _current


def current():
    return _current


def record(kind, value, where):
    return _current.record(kind, value, where)


def record_private_key(key_pem, where):
    return _current.record_private_key(key_pem, where)


def record_passwords(body, where):
    """A raw (bytes / str) or decoded JSON body; a body that is not JSON holds no password field."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return
    _current.record_passwords(body, where)


def request_logged(entry):
    """Called by ``Tenant.log_request``. Within a request (``begin_request``) the entry is written when the request is
    answered, with the status and details set after it was logged; outside one it is written now."""
    pending = _pending.get()
    if pending is None:
        _current.record_request(entry)
    else:
        pending.append(entry)


def begin_request():
    return _pending.set([])


def end_request(token):
    entries = _pending.get() or []
    _pending.reset(token)
    for entry in entries:
        _current.record_request(dict(entry))
