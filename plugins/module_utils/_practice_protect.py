# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Practice Protect (Centrify / Idaptive / CyberArk Identity) client and the base class of its modules.

- OAuth2 client credentials: ``POST /oauth2/token/{app_id}`` with HTTP Basic ``client_id:client_secret`` and a form
  body; the token is kept for the module run (and, with ``pp_token_cache_path``, for the run's other tasks, under a
  fingerprint of the credential) and fetched again once after a 401.
- Every API call is ``POST`` with a JSON body; the answer is the envelope ``{success, Result, Message, ErrorID}``.
  HTTP 200 with ``success: false`` is an error: ``PracticeProtectError`` carries the ``ErrorID`` and ``Message``.
- Transport retries (429, 503, 504, resets; ``Retry-After``; backoff with jitter under a deadline) come from the
  same session builder as Microsoft Graph (``_http.build_session``).
- The endpoint paths live in ``ENDPOINTS`` only; the provisioning job's paths, which no public source documents, in
  ``_pp_sync.JOB_PATHS`` (outbound_sync's ``job_paths`` overrides them), called by path with ``call(..., path=...)``.
- ``query`` runs Redrock SQL and follows its pages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ansible_collections.practiceprotect.m365.plugins.module_utils import _auth, _http
from ansible_collections.practiceprotect.m365.plugins.module_utils._client import ServiceClient

# Every path the collection calls, in one place (reference/practice_protect.md).
ENDPOINTS = {
    "token": "/oauth2/token/{app_id}",
    "whoami": "/Security/Whoami",
    "directory_services": "/Core/GetDirectoryServices",
    "login_suffixes": "/Core/GetCdsAliasesForTenant",
    "directory_query": "/UserMgmt/DirectoryServiceQuery",
    "invite_users": "/UserMgmt/InviteUsers",
    "create_user": "/CDirectoryService/CreateUser",
    "change_user": "/CDirectoryService/ChangeUser",
    "set_user_state": "/CDirectoryService/SetUserState",
    "reset_password": "/UserMgmt/ResetUserPassword",
    "user_attributes": "/UserMgmt/GetUserAttributes",
    "remove_users": "/UserMgmt/RemoveUsers",
    "user_roles": "/UserMgmt/GetUsersRolesAndAdministrativeRights",
    "get_schema": "/ExtData/GetSchema",
    "get_columns": "/ExtData/GetColumns",
    "set_columns": "/ExtData/SetColumns",
    "role_members": "/Roles/GetRoleMembers",
    "update_role": "/Roles/UpdateRole",
    "redrock": "/Redrock/query",
}
# The admin right each write needs (docs/permissions.md, "Practice Protect"); any admin right allows the reads. The
# provisioning job's start is in _pp_sync.JOB_WRITE_RIGHTS.
WRITE_RIGHTS = dict(
    [(ENDPOINTS[name], "User Management") for name in ("invite_users", "create_user", "change_user", "set_user_state", "reset_password",
                                                       "remove_users", "set_columns")]
    + [(ENDPOINTS["update_role"], "Role Management")])
NATIVE_CLIENT_HEADERS = {"X-CENTRIFY-NATIVE-CLIENT": "true", "X-IDAP-NATIVE-CLIENT": "true"}
REDROCK_PAGE_SIZE = 1000


class PracticeProtectError(Exception):
    """A Practice Protect call failed. ``error_id`` is the envelope's ErrorID (None for transport errors)."""

    def __init__(self, message, error_id=None, status=None, path=None, error_code=None):
        super(PracticeProtectError, self).__init__(message)
        # (duplicates: plain attribute assignments, nothing to fold)
        self.message = message
        self.error_id = error_id
        self.status = status
        self.path = path
        self.error_code = error_code
        self.write = path in WRITE_RIGHTS  # the failed call writes (call() says so for a path outside ENDPOINTS)

    def as_dict(self):
        return {"error_code": self.error_id, "status": self.status, "request_id": None, "path": self.path}


class PracticeProtectUncertain(PracticeProtectError):
    """A single-attempt call whose outcome is unknown: the request went out and no answer came back."""


class PracticeProtectAuthError(PracticeProtectError):
    """The token endpoint refused the client (OAuth ``error`` / ``error_description``); never carries the secret."""


def sql_string(value):
    """A SQL string literal for Redrock: single quotes doubled."""
    return "'%s'" % str(value).replace("'", "''")


def envelope_result(status, body, path):
    """The Result of an envelope, or PracticeProtectError. Works on decoded JSON (or None)."""
    if status != 200:
        message = None
        error_id = None
        if isinstance(body, dict):
            message = _text(body.get("Message")) or _text(body.get("error_description"))
            # A gateway in front of the service can answer JSON without the envelope, where "error" is an object.
            error_id = _text(body.get("ErrorID")) or _text(body.get("error"))
        raise PracticeProtectError("Practice Protect answered HTTP %s for %s%s" % (status, path, (": %s" % message) if message else "."),
                                   error_id=error_id, status=status, path=path)
    if not isinstance(body, dict) or "success" not in body:
        raise PracticeProtectError("Practice Protect answered %s with something that is not its JSON envelope." % path, status=status, path=path)
    if not body.get("success"):
        raise PracticeProtectError(body.get("Message") or ("%s failed without a message." % path), error_id=body.get("ErrorID"),
                                   status=status, path=path, error_code=body.get("ErrorCode"))
    return body.get("Result")


class PracticeProtectClient(ServiceClient):
    """Calls one Practice Protect tenant for one module run.

    The token is kept for the run and, with ``token_cache_path``, in that file (mode 0600) under a fingerprint of the
    credential (``_auth.credential_fingerprint``; the secret is never stored), so the tasks of a run fetch one token: each
    task is a new process. A mistyped or rotated secret has another fingerprint, finds no token and is refused by the token
    endpoint before any call."""

    def __init__(self, session, base_url, app_id, client_id, client_secret, scope="all", timeout=30, clock=time.monotonic,
                 token_cache_path=None, retry_deadline=300, stats=None, sleep=time.sleep):
        super(PracticeProtectClient, self).__init__(session, timeout=timeout, retry_deadline=retry_deadline, stats=stats, sleep=sleep,
                                                    clock=clock)
        self.base_url = (base_url or "").rstrip("/")
        self.app_id = app_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.cache_file = _auth.CacheFile(token_cache_path) if token_cache_path else None
        self._fingerprint = None
        self._token = None
        self._expires = 0.0
        self._lock = threading.RLock()

    # -- token ------------------------------------------------------------------------------------------------------

    @property
    def fingerprint(self):
        if self._fingerprint is None:
            self._fingerprint = _auth.credential_fingerprint(self.client_secret, self.base_url, self.app_id, self.client_id, self.scope)
        return self._fingerprint

    def token(self):
        with self._lock:  # the apply workers of one module run share the token
            return self._fetch_token()

    def _fetch_token(self):
        if self._token and self.clock() < self._expires - 30:
            return self._token
        if self.cache_file is not None:
            stored = (self.cache_file.load().get("practice_protect") or {}).get(self.fingerprint)
            left = stored.get("expires_at", 0) - time.time() if isinstance(stored, dict) else 0
            if left > 60 and stored.get("access_token"):
                self._token, self._expires = stored["access_token"], self.clock() + left
                return self._token
        path = ENDPOINTS["token"].format(app_id=self.app_id)
        self.count()
        response = self.session.post(self.base_url + path, data={"grant_type": "client_credentials", "scope": self.scope},
                                     auth=(self.client_id, self.client_secret), headers={"Accept": "application/json"},
                                     timeout=self.timeout)
        body = _decode(response)
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            raise PracticeProtectAuthError(
                "Practice Protect refused the OAuth2 client credentials for app %s (%s%s). Check pp_app_id, pp_client_id and "
                "pp_client_secret, and that the client is a confidential client granted the app and scope %s." % (
                    self.app_id, error or "HTTP %s" % response.status_code, ": %s" % description if description else "", self.scope),
                error_id=error, status=response.status_code, path=path)
        lifetime = float(body.get("expires_in") or 3600)
        self._token = body["access_token"]
        self._expires = self.clock() + lifetime
        if self.cache_file is not None:
            entry = {"access_token": self._token, "expires_at": time.time() + lifetime}

            def keep(data):
                tokens = data.setdefault("practice_protect", {})
                for old in [k for k, v in tokens.items() if not isinstance(v, dict) or v.get("expires_at", 0) <= time.time()]:
                    del tokens[old]
                tokens[self.fingerprint] = entry
            self.cache_file.update(keep)
        return self._token

    def forget(self):
        """Drop the token (after a 401), from the cache file too, so the next call fetches a fresh one."""
        with self._lock:
            self._token = None
            if self.cache_file is not None:
                self.cache_file.update(lambda data: (data.get("practice_protect") or {}).pop(self.fingerprint, None))

    # -- the request loop's parts (_client.ServiceClient) ------------------------------------------------------------------

    def authorization(self):
        return "Bearer " + self.token()

    def forget_token(self):
        self.forget()

    # -- calls ------------------------------------------------------------------------------------------------------

    def call(self, name, body=None, params=None, once=False, path=None, write=None):
        """POST one endpoint by its name in ENDPOINTS (or, with ``path``, that path; ``write`` then says whether it writes);
        returns the envelope's Result.

        ``once``: the call must not reach the service twice (an invitation e-mails someone). It is sent as a single
        attempt, and when the connection drops or a gateway times out after it went out, PracticeProtectUncertain
        says so: the caller reads back whether the service acted instead of sending it again. Other calls go through the
        request loop, where reads (POSTs too) are sent again after a 500 or 502; the transport retries those for GET only.
        """
        path = path or ENDPOINTS[name]
        writes = path in WRITE_RIGHTS if write is None else write
        url = self.base_url + path
        try:
            return self._call(url, path, body, params, once, writes)
        except PracticeProtectError as exc:
            exc.write = writes
            raise

    def _call(self, url, path, body, params, once, writes):
        kwargs = {"headers": NATIVE_CLIENT_HEADERS, "json": body if body is not None else {}, "params": params}
        if once:
            try:
                with _http.single_attempt(self.session):
                    response = self.send_once("POST", url, **kwargs)
            except _http.requests.ConnectionError as exc:
                if _http.failure_kind(exc):
                    raise  # not sent at all: the transport names it
                raise PracticeProtectUncertain(
                    "The connection to Practice Protect failed during %s before an answer came, so whether it was done is not known." % path,
                    path=path)
        else:
            response = self.send("POST", url, read=not writes, **kwargs)
        status = response.status_code
        if once and status == 504:
            raise PracticeProtectUncertain("Practice Protect's gateway timed out on %s; the call may have been done." % path, status=status,
                                           path=path)
        if status in _http.RETRY_STATUSES:
            raise PracticeProtectError("Practice Protect answered HTTP %s for %s and still did after retrying within the deadline." % (
                status, path), status=status, path=path)
        return envelope_result(status, _decode(response), path)

    def query(self, script, page_size=REDROCK_PAGE_SIZE, sort_by=None):
        """Rows (the ``Row`` dicts) of a Redrock SQL query, every page (``redrock_done`` says when to stop)."""
        rows = []
        page = 1
        while True:
            args = {"PageNumber": page, "PageSize": page_size, "Limit": 100000, "Caching": -1}
            if sort_by:
                args["SortBy"] = sort_by
            result = self.call("redrock", {"Script": script, "Args": args}) or {}
            batch = [item.get("Row") or {} for item in result.get("Results") or []]
            rows.extend(batch)
            if redrock_done(result, len(batch), len(rows), page_size):
                return rows
            page += 1

    # -- lookups the modules share ----------------------------------------------------------------------------------

    def users(self):
        return self.query("SELECT ID, Username, DisplayName, Email, MobileNumber, SourceDsType, Status FROM User", sort_by="Username")

    def roles(self):
        return self.query("SELECT ID, Name, Description, ReadOnly FROM Role", sort_by="Name")

    def applications(self):
        return self.query("SELECT ID, Name, DisplayName, ProvCapable, ProvConfigured, ProvSettingEnabled FROM Application", sort_by="Name")

    def role_members(self, role_id):
        result = self.call("role_members", {"Name": role_id}) or {}
        return [item.get("Row") or {} for item in result.get("Results") or []]

    def user_roles(self, user_id):
        """The user's roles as ``{"Name", "AdministrativeRights": [descriptions]}``. Rows name the role ``RoleName`` or
        ``Name`` (public clients read both, reference section 12); the rights come as ``{"Description"}`` items or strings."""
        result = self.call("user_roles", params={"id": user_id}) or {}
        roles = []
        for item in result.get("Results") or []:
            row = item.get("Row") or {}
            rights = [r.get("Description") if isinstance(r, dict) else r for r in row.get("AdministrativeRights") or []]
            roles.append({"Name": row.get("RoleName") or row.get("Name"), "AdministrativeRights": [r for r in rights if r]})
        return roles

    def user_role_names(self, user_id):
        return [role["Name"] for role in self.user_roles(user_id)]

    def user_attributes(self, user_id):
        """A cloud user's GetUserAttributes answer (its state, description and the other fields it keeps)."""
        return self.call("user_attributes", {"ID": user_id}) or {}

    def columns(self):
        result = self.call("get_schema", {"Table": "users"}) or {}
        return result.get("Columns") or []

    def column_values(self, user_id):
        return self.call("get_columns", {"Table": "users", "ID": user_id}) or {}

    def login_suffixes(self):
        result = self.call("login_suffixes") or {}
        return [(item.get("Row") or {}).get("ID") for item in result.get("Results") or []]

    def directory_services(self):
        result = self.call("directory_services") or {}
        return [item.get("Row") or {} for item in result.get("Results") or []]


def redrock_done(result, batch, read, page_size):
    """Whether a Redrock read is complete after a page of ``batch`` rows (``read`` rows in all).

    What ``Count`` means is not publicly documented (reference section 12): some answers read as the total, others as the
    rows of this page, and ``FullCount`` appears beside it. So the read stops on an empty or short page (what
    cyberark/idsec-sdk-golang's ``listUsers`` does, reading no count at all), when the rows reach ``FullCount``, or when they
    reach a ``Count`` that cannot be this page's size (it differs from the page's rows). A ``Count`` equal to the page's rows
    says nothing: the next page is read, and an empty one ends the read."""
    if not batch or batch < page_size:
        return True
    full = result.get("FullCount")
    if _whole(full) and read >= full:
        return True
    count = result.get("Count")
    return _whole(count) and count != batch and read >= count


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value):
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _decode(response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def describe(error, admin_rights=()):
    """``(sentence, fields)`` for a failed Practice Protect call; a refusal names the admin right the module needs
    (``admin_rights``: the rights docs/permissions.md lists for it)."""
    message = error.message
    if error.error_id == "Unauthorized" and (getattr(error, "write", False) or not admin_rights):
        message = "%s The Practice Protect client's role lacks an admin right for %s; see docs/permissions.md." % (message, error.path)
    elif error.error_id == "Unauthorized":  # a read: any admin right allows it, so the role holds none of the module's
        message = ("%s The Practice Protect client's role lacks an admin right for %s (any admin right allows the reads); this "
                   "module needs %s; see docs/permissions.md." % (
                       message, error.path, " and ".join("the %s admin right" % right for right in admin_rights)))
    return message, error.as_dict()
