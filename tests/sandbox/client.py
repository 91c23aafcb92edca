"""Start a sandbox in a child process and talk to its control API (for integration tests and the demo).

    sandbox = start_sandbox(state_dir)
    try:
        sandbox.reset()
        ...  # run modules with sandbox.env
        assert sandbox.writes() == []
    finally:
        sandbox.stop()
"""

import json
import os
import subprocess
import sys
import time

import requests

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV_FILE = "sandbox.env"
JSON_FILE = "sandbox.json"


class SandboxError(RuntimeError):
    """The control API refused a request, or the sandbox did not start."""


def read_env(path):
    """Parse a KEY=value env file."""
    values = {}
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = value
    return values


class Sandbox:
    """A running sandbox: its env values, its state dir, and the control API."""

    def __init__(self, state_dir, env, process=None):
        self.state_dir = state_dir
        self.env = env
        self.process = process
        self.http = _session(env)
        self.http.headers["Authorization"] = "Bearer " + env["SANDBOX_ADMIN_TOKEN"]

    # Control API -------------------------------------------------------------------------------------------------

    def control(self, method, path, json=None):
        """Call /_sandbox/<path>; returns the decoded JSON (None for an empty answer); SandboxError on 4xx/5xx."""
        url = self.env["SANDBOX_CONTROL_URL"].rstrip("/") + "/_sandbox/" + path.lstrip("/").replace("_sandbox/", "", 1)
        try:
            response = self.http.request(method, url, json=json, timeout=30)
        except requests.ConnectionError:
            # A pooled keep-alive connection the server closed while the test ran a long playbook: once more, on a new one.
            response = self.http.request(method, url, json=json, timeout=30)
        if response.status_code >= 400:
            raise SandboxError("%s %s -> %s: %s" % (method, path, response.status_code, response.text[:500]))
        return response.json() if response.content else None

    def reset(self):
        return self.control("POST", "reset")

    def state(self):
        return self.control("GET", "state")

    def log(self, since=0):
        return self.control("GET", "log?since=%d" % since)["entries"]

    def clear_log(self):
        self.control("DELETE", "log")

    def writes(self, since=0):
        return [entry for entry in self.log(since) if entry["write"]]

    def configure(self, **knobs):
        return self.control("PATCH", "config", json=knobs)

    def add_app(self, display_name, roles, credential="secret", directory_roles=()):
        """Register an app; directory_roles are Entra role template ids its service principal holds (Exchange needs one)."""
        return self.control("POST", "apps", json={"display_name": display_name, "roles": list(roles), "credential": credential,
                                                  "directory_roles": list(directory_roles)})

    def seed(self, users, groups=()):
        """Add users (``mailboxType`` gives one a mailbox of that type without a licence), then groups (``members``: UPNs or
        ids of users, display names or ids of groups)."""
        return self.control("POST", "seed", json={"users": list(users), "groups": list(groups)})

    def seed_access(self, user, methods=(), rules=(), devices=(), auto_reply=None):
        """Give a user authentication methods (``kind`` and its properties, ``default: true``), inbox rules, mobile devices
        (Get-MobileDevice's shape, ``DeviceId`` at least) or automatic-reply settings."""
        return self.control("POST", "access", json={"user": user, "methods": list(methods), "rules": list(rules), "devices": list(devices),
                                                    "auto_reply": auto_reply})

    def mail(self):
        """Messages accepted by Graph's sendMail since the last reset: sender, toRecipients, ccRecipients, subject, content, ..."""
        return self.control("GET", "mail")["messages"]

    # Convenience for tests ---------------------------------------------------------------------------------------

    def token(self, client_id=None, client_secret=None, resource=None):
        """An access token straight from the token endpoint (no msal), for the secret app unless told otherwise."""
        with _session(self.env) as http:
            response = http.post(
                "%s/%s/oauth2/v2.0/token" % (self.env["M365_AUTHORITY_URL"], self.env["M365_TENANT_ID"]),
                data={"grant_type": "client_credentials", "client_id": client_id or self.env["M365_CLIENT_ID"],
                      "client_secret": client_secret or self.env["M365_CLIENT_SECRET"],
                      "scope": "%s/.default" % (resource or self.env["M365_GRAPH_URL"])},
                timeout=30)
        body = response.json()
        if "access_token" not in body:
            raise SandboxError("token request failed: %s" % body.get("error_description", body))
        return body["access_token"]

    def graph_session(self, client_id=None, client_secret=None):
        """A requests.Session for Graph with a bearer token and the sandbox CA."""
        session = _session(self.env)
        session.headers["Authorization"] = "Bearer " + self.token(client_id, client_secret)
        return session

    @property
    def graph_url(self):
        return self.env["M365_GRAPH_URL"] + "/v1.0"

    # Process -----------------------------------------------------------------------------------------------------

    def stop(self, timeout=10):
        """Stop the child process (SIGTERM, then SIGKILL after `timeout` seconds)."""
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def _session(env):
    """A session that trusts the sandbox CA. trust_env is off because requests lets REQUESTS_CA_BUNDLE (or
    CURL_CA_BUNDLE) from the environment replace session.verify, and proxy variables must not catch loopback calls."""
    session = requests.Session()
    session.verify = env["M365_CA_PATH"]
    session.trust_env = False
    return session


def start_sandbox(state_dir, timeout=120, env=None, args=()):
    """Spawn `python -m tests.sandbox serve --state-dir DIR --port 0` from the repository root; wait for sandbox.env.

    env: the child's environment (default: this process's), e.g. with SANDBOX_SECRETS_FILE and SANDBOX_REQUEST_LOG_FILE
    (tests/sandbox/secret_log.py). args: more command-line options, e.g. ``["--snapshot", path]``.
    """
    state_dir = os.path.abspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    env_path = os.path.join(state_dir, ENV_FILE)
    json_path = os.path.join(state_dir, JSON_FILE)
    for path in (env_path, json_path):
        if os.path.exists(path):
            os.unlink(path)
    log_path = os.path.join(state_dir, "sandbox.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.sandbox", "serve", "--state-dir", state_dir, "--port", "0"] + list(args),
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError("the sandbox exited with %s; see %s:\n%s" % (process.returncode, log_path, _tail(log_path)))
        if os.path.exists(env_path) and os.path.exists(json_path):
            try:
                with open(json_path) as handle:
                    pid = json.load(handle).get("pid")
            except ValueError:
                pid = None
            if pid == process.pid:
                return Sandbox(state_dir, read_env(env_path), process)
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise SandboxError("the sandbox did not start within %ss; see %s:\n%s" % (timeout, log_path, _tail(log_path)))


def _tail(path, size=2000):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
