# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange Online admin API client and the plan of ``m365_mailbox``.

Graph cannot write a mailbox's addresses, type, forwarding or permissions. Exchange Online can, through
``POST {exchange_url}/adminapi/beta/{tenant}/InvokeCommand``: the endpoint Microsoft's own
ExchangeOnlineManagement PowerShell module uses in REST mode. Microsoft does not document it, so every call to it
stays in this file. It takes ``{"CmdletInput": {"CmdletName", "Parameters"}}``, answers ``{"value": [...]}``
paged by ``@odata.nextLink`` (the same body is posted to the link), puts warnings in ``@adminapi.warnings`` and
puts error text in ``error.details[].message`` as ``"<id>|<exception type>|<text>"``.

The client reuses the module's session (TLS, timeouts, and the retry policy for 429/503/504 and resets) and its
token provider, with a token for the Exchange resource (``{exchange_url}/.default``) (``_module.Module`` builds it
for the modules that name the service ``exchange``); ``ExchangeService`` keeps what a run reads (users, mailboxes, accepted domains, owners
of addresses), so a task for many people (``items``) reads each of them once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import random
import re
import threading
import time

try:
    from html import unescape as html_unescape
except ImportError:  # pragma: no cover - Python 2
    from HTMLParser import HTMLParser
    html_unescape = HTMLParser().unescape

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, read_users
from ansible_collections.practiceprotect.m365.plugins.module_utils._client import ServiceClient, wait_until
from ansible_collections.practiceprotect.m365.plugins.module_utils._http import RETRY_STATUSES
from ansible_collections.practiceprotect.m365.plugins.module_utils._addresses import validate_address
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError, is_guid, parse_time, utc_text

# The anchor the ExchangeOnlineManagement module sends for app-only calls (reference graph.md 8.2).
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
PAGE_SIZE = 1000
NOT_FOUND_CODES = ("ManagementObjectNotFoundException",)
TYPE_NAMES = {"UserMailbox": "regular", "SharedMailbox": "shared"}
TYPE_PARAMETER = {"regular": "Regular", "shared": "Shared"}
TYPE_DETAILS = {"regular": "UserMailbox", "shared": "SharedMailbox"}
# At most this many InvokeCommand calls of one module run are in flight at once (its workers share the client). Exchange
# refuses calls over a per-tenant limit that Microsoft does not publish (reference practice_protect.md section 13); the
# sandbox's default limit is the same number. Other module runs against the same tenant can still meet the limit: that answer
# is retried (``is_concurrency_limited``).
MAX_CONCURRENT_CALLS = 4
# What Exchange Online answers, as plain text, when the tenant has too many calls in flight; GreyCorbel/ExoHelper matches the
# same words to wait and retry. Matched whatever the HTTP status (UNCONFIRMED: 429).
CONCURRENCY_LIMITED = "You have reached the maximum number of concurrent requests per tenant"
PERMISSION_HINT = ("The application needs the Exchange.ManageAsApp application permission of Office 365 Exchange Online (with admin "
                   "consent) and the Exchange Administrator role; see docs/permissions.md.")


class ExchangeError(GraphError):
    """A failed cmdlet. Same fields as GraphError (``code`` is Exchange's exception type without its namespace),
    plus the cmdlet and Exchange's error id."""

    def __init__(self, message, status=None, code=None, request_id=None, details=None, method="POST", path=None, cmdlet=None,
                 error_id=None):
        super(ExchangeError, self).__init__(message, status=status, code=code, request_id=request_id, details=details, method=method,
                                            path=path)
        self.cmdlet = cmdlet
        self.error_id = error_id

    @classmethod
    def from_response(cls, status, body, headers=None, method="POST", path=None, cmdlet=None):
        message, code, error_id = parse_error(body, status)
        request_id = None
        for key, value in (headers or {}).items():
            if key.lower() in ("request-id", "x-request-id"):
                request_id = value
                break
        return cls(message, status=status, code=code, request_id=request_id, method=method, path=path, cmdlet=cmdlet, error_id=error_id)

    def is_not_found(self):
        return self.status == 404 or self.code in NOT_FOUND_CODES

    def as_dict(self):
        out = super(ExchangeError, self).as_dict()
        out["cmdlet"] = self.cmdlet
        return out


def parse_error(body, status):
    """(text, code, error id) from an admin API error body: details first, then the inner exception, then the message."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = body.strip()[:500] if isinstance(body, str) and body.strip() else "HTTP %s" % status
        return text, None, None
    details = error.get("details")
    if isinstance(details, dict):
        details = [details]
    for detail in details or []:
        message = detail.get("message") if isinstance(detail, dict) else None
        if isinstance(message, str) and message:
            decoded = _json_detail(message)
            if decoded is not None:
                text, kind, string_id = decoded
                return text, kind or error.get("code"), string_id
            parts = message.split("|", 2)
            if len(parts) == 3:
                return parts[2], parts[1].rsplit(".", 1)[-1], parts[0]
            return message, error.get("code"), None
    inner = error.get("innererror") or error.get("innerError") or {}
    internal = inner.get("internalException") or inner.get("internalexception") if isinstance(inner, dict) else None
    if isinstance(internal, dict) and internal.get("message"):
        kind = internal.get("type") or ""
        return internal["message"], kind.rsplit(".", 1)[-1] or error.get("code"), None
    return error.get("message") or ("HTTP %s" % status), error.get("code"), None


def _json_detail(message):
    """(text, exception type without namespace, string id) of an error detail whose message is itself JSON (some replies carry
    ``{"localizedString": {"stringId"}, "ClassName", "Message"}`` there, reference practice_protect.md section 13), else None."""
    if not message.lstrip().startswith("{"):
        return None
    try:
        decoded = json.loads(message)
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    fields = dict((str(key).lower(), value) for key, value in decoded.items())
    text = fields.get("message") or fields.get("description")
    if not isinstance(text, str) or not text.strip():
        return None
    kind = fields.get("classname") or fields.get("type")
    localized = fields.get("localizedstring")
    string_id = localized.get("stringId") if isinstance(localized, dict) else fields.get("localizedstring.stringid")
    return text.strip(), kind.rsplit(".", 1)[-1] if isinstance(kind, str) and kind else None, string_id


def is_concurrency_limited(response):
    """True when Exchange refused the call because the tenant has too many calls in flight (a plain-text answer)."""
    if response.status_code < 400 or not response.content:
        return False
    try:
        text = response.content.decode("utf-8", "replace")
    except AttributeError:  # pragma: no cover - a str body in tests
        text = str(response.content)
    return CONCURRENCY_LIMITED.lower() in text.lower()


class ExchangeClient(ServiceClient):
    """Runs cmdlets through InvokeCommand for one module run: at most ``max_calls`` at once (the run's workers share it),
    and a call Exchange refuses for the tenant's concurrency limit is sent again after a backoff, within ``retry_deadline``
    seconds (counted in ``stats`` with the transport's own retries). A 429 is first retried by the transport, which also holds
    the whole run for it (_http.ThrottleGate); the request loop (``_client.ServiceClient.send``) catches the same answer under
    another status, and the last one, and sends a ``Get-`` cmdlet again after a 500 or 502."""

    def __init__(self, session, token_provider, exchange_url, tenant_id, timeout=30, retry_deadline=300, stats=None,
                 max_calls=MAX_CONCURRENT_CALLS, sleep=time.sleep, clock=time.monotonic):
        super(ExchangeClient, self).__init__(session, timeout=timeout, retry_deadline=retry_deadline, stats=stats, sleep=sleep,
                                             clock=clock)
        self.tokens = token_provider
        self.exchange_url = exchange_url.rstrip("/")
        self.tenant_id = tenant_id
        self.path = "/adminapi/beta/%s/InvokeCommand" % tenant_id
        self.url = self.exchange_url + self.path
        self.slots = threading.BoundedSemaphore(max(1, int(max_calls)))
        self.warnings = []
        self.concurrency_retries = 0

    # -- the request loop's parts (_client.ServiceClient) ------------------------------------------------------------------

    def authorization(self):
        return "Bearer " + self.tokens.token(self.exchange_url)

    def forget_token(self):
        self.tokens.forget(self.exchange_url)

    def send_once(self, method, url, headers=None, **kwargs):
        with self.slots:
            return super(ExchangeClient, self).send_once(method, url, headers=headers, **kwargs)

    def retry_delay(self, method, url, response, attempt, read):
        """After the tenant's concurrency answer: its Retry-After, else 1, 2, 4 ... (at most 30) seconds with jitter."""
        if is_concurrency_limited(response):
            delay = _retry_after(response)
            if delay is None:
                delay = min(30.0, 2.0 ** attempt) + random.uniform(0, 0.5)  # nosec - jitter, not security
            return delay
        return super(ExchangeClient, self).retry_delay(method, url, response, attempt, read)

    def retrying(self, method, url, response):
        if is_concurrency_limited(response):
            with self._count_lock:
                self.concurrency_retries += 1

    def invoke(self, cmdlet, parameters=None, select=None):
        """Run one cmdlet; returns every object it answers (following @odata.nextLink). Raises ExchangeError."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        url = self.url + ("?$select=" + ",".join(select) if select else "")
        items = []
        headers = {
            "Content-Type": "application/json",
            "X-AnchorMailbox": "APP:%s@%s" % (SYSTEM_MAILBOX, self.tenant_id),
            "X-CmdletName": cmdlet,
            "Prefer": "odata.maxpagesize=%d" % PAGE_SIZE,
        }
        while url:
            response = self.send("POST", url, headers=headers, read=cmdlet.startswith("Get-"), data=json.dumps(body))
            decoded = _decode(response)
            if response.status_code >= 400:
                error = ExchangeError.from_response(response.status_code, decoded, response.headers, path=self.path, cmdlet=cmdlet)
                if response.status_code in RETRY_STATUSES:
                    error.message = "%s (gave up: another try would pass retry_deadline)" % error.message
                raise error
            if not isinstance(decoded, dict):
                raise ExchangeError("Exchange Online answered %s with something that is not JSON." % cmdlet, status=response.status_code,
                                    path=self.path, cmdlet=cmdlet)
            self.warnings.extend(w for w in decoded.get("@adminapi.warnings") or [] if isinstance(w, str))
            items.extend(decoded.get("value") or [])
            url = decoded.get("@odata.nextLink")
        return items

    # -- reads -------------------------------------------------------------------------------------------------------

    def get_one(self, cmdlet, identity):
        """The one object a ``Get-`` cmdlet answers for ``identity``, or None when Exchange has none (not found)."""
        try:
            found = self.invoke(cmdlet, {"Identity": identity})
        except ExchangeError as exc:
            if exc.is_not_found():
                return None
            raise
        return found[0] if found else None

    def get_mailbox(self, identity):
        """The mailbox (Get-Mailbox), or None when Exchange has none for ``identity``."""
        return self.get_one("Get-Mailbox", identity)

    def accepted_domains(self):
        return [d.get("DomainName") or d.get("Name") for d in self.invoke("Get-AcceptedDomain")]

    def auto_reply(self, identity):
        """The mailbox's automatic-reply settings (Get-MailboxAutoReplyConfiguration), or None when there is no mailbox."""
        return self.get_one("Get-MailboxAutoReplyConfiguration", identity)

    def mobile_devices(self, identity):
        """The mobile devices that sync with the mailbox (Get-MobileDevice -Mailbox), as Exchange lists them."""
        return self.invoke("Get-MobileDevice", {"Mailbox": identity})

    def full_access(self, identity):
        """Lower-case trustees with explicit FullAccess (not inherited, not denied, not SELF or a bare SID)."""
        out = []
        for entry in self.invoke("Get-MailboxPermission", {"Identity": identity}):
            user = entry.get("User") or ""
            rights = entry.get("AccessRights") or []
            if isinstance(rights, str):
                rights = [r.strip() for r in rights.split(",")]
            rights = [r.strip() for item in rights for r in str(item).split(",")]
            if entry.get("IsInherited") or entry.get("Deny") or "FullAccess" not in rights:
                continue
            if user.upper().startswith("NT AUTHORITY\\") or user.upper().startswith("S-1-"):
                continue
            out.append(user.lower())
        return sorted(set(out))


def client_for(m):
    """The Exchange client of a module (same session, token provider, retry deadline and retry count as its Graph client)."""
    p = m.params
    session = m.session  # built first: it creates the run's retry count
    return ExchangeClient(session, m.tokens, p["exchange_url"], p["tenant_id"], timeout=p["request_timeout"],
                          retry_deadline=p["retry_deadline"], stats=getattr(m, "retry_stats", None))


def _retry_after(response):
    value = None
    for key, item in (response.headers or {}).items():
        if key.lower() == "retry-after":
            value = item
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def describe(exc):
    """``(sentence, fields)`` for a failed cmdlet: Exchange's text, error code, status, request id, cmdlet and error id."""
    if exc.status in (401, 403):
        message = "Exchange Online refused %s: %s %s" % (exc.cmdlet, exc.message, PERMISSION_HINT)
    else:
        message = "Exchange Online refused %s: %s" % (exc.cmdlet, exc.message)
    fields = exc.as_dict()
    fields["exchange_error_id"] = exc.error_id
    return message, fields


# --------------------------------------------------------------------------------------------------------------
# Users and their mailboxes (Graph for the user, Exchange for the mailbox)

USER_SELECT = "id,userPrincipalName,displayName,mail,assignedPlans"
OWNER_CHUNK = 4  # addresses per owner query (three clauses each)
# From these counts on, one paged list (of the directory's addresses, of every mailbox) costs fewer requests than
# one query per chunk or per person (users by key: _graph.read_users).
OWNER_LIST_FROM = 4 * OWNER_CHUNK + 1
MAILBOX_LIST_FROM = 4
OWNER_SELECT = "id,userPrincipalName,displayName,mail,proxyAddresses"
GROUP_OWNER_SELECT = "id,displayName,mail,proxyAddresses"
UNREAD = object()
LICENCE_GRACE_S = 60  # how long a licence may take to show on a read after it was assigned (Entra replication)


def not_a_user(field, key):
    return "%s %s is not a user in this tenant; give the UPN or object id of an existing user." % (field, key)


def label(user):
    return user.get("userPrincipalName") or user.get("id")


def has_exchange_plan(user):
    return any(plan.get("service") == "exchange" and plan.get("capabilityStatus") == "Enabled" for plan in user.get("assignedPlans") or [])


def wait_for_mailbox(client, user, wait, timeout, sleep=time.sleep, clock=time.monotonic, mailbox=UNREAD, reread=None):
    """The user's mailbox; with ``wait`` polls until Exchange has provisioned it. ValidationError otherwise.

    ``mailbox`` is what a read of this run already found (None: no mailbox then); left out, it is read first.
    ``reread()`` reads the user again: with ``wait``, a user whose licence the first read did not show (a licence
    assigned moments ago, not replicated to every reader yet) is read again for up to ``LICENCE_GRACE_S`` before
    the missing licence is reported. Returns ``(mailbox, polls)``.
    """
    if mailbox is UNREAD:
        mailbox = client.get_mailbox(user["id"])
    if mailbox is not None:
        return mailbox, 0
    who = label(user)
    started = clock()
    polls = 0
    if wait and reread is not None and not has_exchange_plan(user):
        # Read the user again for a while: a licence assigned moments ago may not show on every read yet.
        seen = wait_until(lambda: reread() or user, min(timeout, LICENCE_GRACE_S), done=has_exchange_plan, sleep=sleep, clock=clock,
                          seen=user)
        user, polls = seen.value, seen.polls
    if not has_exchange_plan(user):
        raise ValidationError(
            "%s has no mailbox and no licence that includes Exchange Online, so Exchange will not create one. Assign such a licence "
            "(for example O365_BUSINESS_PREMIUM with m365_user) first; if you just did, run again in a minute." % who, field="user")
    if not wait:
        raise ValidationError(
            "%s has an Exchange Online licence but Exchange has not provisioned the mailbox yet (this takes a few minutes after the "
            "licence is assigned). Set wait_for_mailbox=true to wait for it, or run again later." % who, field="user")
    seen = wait_until(lambda: client.get_mailbox(user["id"]), timeout - (clock() - started), done=lambda found: found is not None,
                      sleep=sleep, clock=clock, delay=min(2.0 ** polls, 15.0), seen=None)  # the backoff goes on from the grace
    if seen.done:
        return seen.value, polls + seen.polls
    raise ValidationError("%s still has no mailbox after %d seconds of waiting (wait_timeout). Exchange can take longer after a licence "
                          "is assigned; run again later or raise wait_timeout." % (who, timeout), field="wait_timeout")


def address_holders(graph, addresses, with_groups=False):
    """Lower-case address -> the recipients holding it: users as UPN, mail or proxy address, and groups (Microsoft 365
    groups, distribution lists, mail-enabled security groups) as mail or proxy address. Each holder is
    ``{"id", "userPrincipalName", "displayName", "kind"}`` (``kind`` user or group; a group's ``userPrincipalName`` is its mail).

    Groups are read only ``with_groups`` (it needs a permission to read groups). One query per collection per four
    addresses; addresses nobody holds map to ``[]``.
    """
    holders = dict((a.lower(), []) for a in addresses)
    unique = sorted(holders)
    for offset in range(0, len(unique), OWNER_CHUNK):
        chunk = unique[offset:offset + OWNER_CHUNK]
        users, group_clauses = [], []
        for address in chunk:
            literal = "'%s'" % address.replace("'", "''")
            smtp = "'smtp:%s'" % address.replace("'", "''")
            users.append("proxyAddresses/any(p:p eq %s) or mail eq %s or userPrincipalName eq %s" % (smtp, literal, literal))
            group_clauses.append("proxyAddresses/any(p:p eq %s) or mail eq %s" % (smtp, literal))
        _add_holders(holders, graph.list("users", params={"$filter": " or ".join(users), "$select": OWNER_SELECT}), chunk)
        if with_groups:
            _add_holders(holders, graph.list("groups", params={"$filter": " or ".join(group_clauses), "$select": GROUP_OWNER_SELECT}), chunk,
                         kind="group")
    return holders


def holders_from(users, addresses, groups=()):
    """``address_holders`` from the users (and groups) already read (the whole directory, for many addresses)."""
    holders = dict((a.lower(), []) for a in addresses)
    _add_holders(holders, users, sorted(holders))
    _add_holders(holders, groups, sorted(holders), kind="group")
    return holders


def _add_holders(holders, objects, addresses, kind="user"):
    wanted = set(addresses)
    for item in objects:
        held = [item.get("userPrincipalName") or "", item.get("mail") or ""]
        held += [p.split(":", 1)[-1] for p in item.get("proxyAddresses") or []]
        for address in set(h.lower() for h in held) & wanted:
            if item.get("id") not in [h["id"] for h in holders[address]]:
                holders[address].append({"id": item.get("id"), "userPrincipalName": item.get("userPrincipalName") or item.get("mail"),
                                         "displayName": item.get("displayName"), "kind": kind})


def holder_label(holder):
    """"Display Name (upn)" of a user, "the group Name (mail)" of a group."""
    name = holder.get("displayName") or holder.get("userPrincipalName")
    text = "%s (%s)" % (name, holder.get("userPrincipalName"))
    return "the group " + text if holder.get("kind") == "group" else text


def owners_from(holders, addresses, except_id):
    """Lower-case address -> the first holder of it that is not the user ``except_id``, as ``holder_label`` gives it."""
    owners = {}
    for address in addresses:
        for holder in holders.get(address.lower()) or []:
            if holder["id"] != except_id:
                owners[address.lower()] = holder_label(holder)
                break
    return owners


class ExchangeService:
    """What the Exchange modules read, kept for the module run so a task for many people reads each thing once.

    Users come from Graph with list queries (``userPrincipalName in (...)`` and ``id in (...)``, chunks of 15, or one
    paged list of the directory for many people); the accepted domains once; each mailbox once (Get-Mailbox per
    identity for a few people: the admin API has no documented way to read several named mailboxes in one call; one
    paged Get-Mailbox list for more); the owners of addresses with one query per four addresses, or from one list of
    the directory's addresses when there are many.
    """

    def __init__(self, graph, client, with_groups=False):
        self.graph = graph
        self.client = client
        self.with_groups = with_groups  # groups hold addresses too; reading them needs a group permission
        self._users = {}      # lower-case UPN or id -> Graph user, or None when read and not found
        self._mailboxes = {}  # user id -> mailbox, or None when Exchange had none
        self._domains = None
        self._holders = {}    # lower-case address -> [holder], see address_holders
        self._claims = {}     # lower-case address -> (user id, label) of the person this run gives it to
        self._reads = {}      # key -> (answer, error) of a per-person read made ahead of the plans, see read_each

    # -- Graph users -------------------------------------------------------------------------------------------------

    def read_users(self, keys):
        """Users by UPN or object id, keyed by the lower-case key (None for keys that name nobody)."""
        keys = [k for k in keys if k]
        missing = sorted(set(k.lower() for k in keys) - set(self._users))
        for key in missing:
            self._users[key] = None

        def keep(user):  # everyone read: after a list of the whole directory, the others cost no call either
            self._users[user["id"].lower()] = user
            self._users[(user.get("userPrincipalName") or "").lower()] = user
        read_users(self.graph, missing, USER_SELECT.split(","), every=keep)
        return dict((k.lower(), self._users.get(k.lower())) for k in keys)

    def user(self, key, field="user"):
        """The Graph user a UPN or object id names; ValidationError when there is none."""
        user = self.read_users([key]).get(key.lower()) if key else None
        if user is None:
            raise ValidationError(not_a_user(field, key), field=field)
        return user

    def lookup(self, key):
        """``{"id", "userPrincipalName"}`` of the user a UPN or object id names, or None."""
        user = self.read_users([key]).get(key.lower())
        return {"id": user["id"], "userPrincipalName": user["userPrincipalName"]} if user else None

    # -- per-person reads made ahead -----------------------------------------------------------------------------------

    def read_each(self, keys, read, concurrently):
        """Make ``read(key)`` for each of ``keys`` (hashable, say ``("rules", user id)``) not read yet, all at once through
        ``concurrently`` (``Module.concurrently``), and keep each answer, or the error it met, for ``each``."""
        missing = []
        for key in keys:
            if key not in self._reads and key not in missing:
                missing.append(key)
        for key, answer in zip(missing, concurrently(read, missing)):
            self._reads[key] = answer

    def each(self, key, read):
        """What ``read_each`` kept for ``key`` (the error it met is raised, as the read itself would have raised it), else
        ``read(key)`` now (one object, no prefetch)."""
        if key not in self._reads:
            return read(key)
        answer, error = self._reads[key]
        if error is not None:
            raise error
        return answer

    # -- Exchange ----------------------------------------------------------------------------------------------------

    def mailbox(self, user):
        """The user's mailbox as first read in this run (None when there was none then)."""
        if user["id"] not in self._mailboxes:
            self._mailboxes[user["id"]] = self.client.get_mailbox(user["id"])
        return self._mailboxes[user["id"]]

    def read_mailboxes(self, users):
        """Read the mailboxes of ``users`` not read yet: one per person for a few, else one Get-Mailbox list of all."""
        missing = [u for u in users if u["id"] not in self._mailboxes]
        if len(missing) < MAILBOX_LIST_FROM:
            for user in missing:
                self.mailbox(user)
            return
        by_id = {}
        for mailbox in self.client.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}):
            object_id = (mailbox.get("ExternalDirectoryObjectId") or "").lower()
            if object_id:
                by_id[object_id] = mailbox
        for user in missing:
            self._mailboxes[user["id"]] = by_id.get(user["id"].lower())

    def wait_for_mailbox(self, user, wait, timeout, sleep=time.sleep, clock=time.monotonic):
        """``wait_for_mailbox`` starting from the read this run already made; keeps what it finds."""
        mailbox, polls = wait_for_mailbox(self.client, user, wait, timeout, sleep, clock, mailbox=self.mailbox(user),
                                          reread=lambda: self.graph.get_or_none("users/%s" % user["id"], params={"$select": USER_SELECT}))
        self._mailboxes[user["id"]] = mailbox
        return mailbox, polls

    def accepted_domains(self):
        if self._domains is None:
            self._domains = self.client.accepted_domains()
        return self._domains

    # -- addresses ---------------------------------------------------------------------------------------------------

    def read_owners(self, addresses):
        """Read who holds each address (those not read yet), one query per four addresses."""
        missing = sorted(set(a.lower() for a in addresses) - set(self._holders))
        if len(missing) >= OWNER_LIST_FROM:
            groups = self.graph.list("groups", params={"$select": GROUP_OWNER_SELECT, "$top": "999"}) if self.with_groups else []
            self._holders.update(holders_from(self.graph.list("users", params={"$select": OWNER_SELECT, "$top": "999"}), missing, groups))
        elif missing:
            self._holders.update(address_holders(self.graph, missing, self.with_groups))

    def holders(self, addresses):
        """Lower-case address -> its holders (see ``address_holders``), read once per run."""
        self.read_owners(addresses)
        return dict((a.lower(), list(self._holders.get(a.lower()) or [])) for a in addresses)

    def owners(self, addresses, except_id):
        """Lower-case address -> "Display Name (upn)" of another user holding it (read once per run)."""
        self.read_owners(addresses)
        return owners_from(self._holders, addresses, except_id)

    def claim(self, addresses, user):
        """Note that this run gives ``addresses`` to ``user``. ValidationError when it gives one to someone else already."""
        for address in addresses:
            other = self._claims.get(address.lower())
            if other is not None and other[0] != user["id"]:
                raise ValidationError(
                    "%s cannot get %s: this task gives it to %s as well. Give each address to one person." % (label(user), address, other[1]),
                    field="aliases")
        for address in addresses:
            self._claims[address.lower()] = (user["id"], label(user))


def service_of(m):
    """The module run's one ExchangeService (m365_alias, m365_mailbox, m365_access): what it reads once serves every person."""
    return m.shared("service", lambda: ExchangeService(m.graph, m.exchange))


# --------------------------------------------------------------------------------------------------------------
# m365_mailbox: spec, view and plan


def build_mailbox_spec(params):
    """Validate and normalise m365_mailbox's options. Raises ValidationError; makes no call."""
    user = (params.get("user") or "").strip()
    if not user:
        raise ValidationError("user is empty; give the user's UPN or object id.", field="user")
    forwarding = params.get("forwarding_address")
    if forwarding is not None:
        forwarding = forwarding.strip()
        if forwarding.lower().startswith("smtp:"):
            forwarding = forwarding[5:]
        # An Exchange address is ASCII: validate_address refuses accented characters, as Exchange does.
        forwarding = validate_address(forwarding, "forwarding_address") if forwarding else ""
    full_access = _model.ListChange(params.get("full_access"), "full_access", normalise=_trustee_key)
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)  # a bad value fails before any call
    auto_reply = check_auto_reply(params.get("auto_reply"))
    return {
        "auto_reply": auto_reply,
        "user": user, "type": params.get("type"), "forwarding": forwarding, "keep_copy": params.get("forwarding_keep_copy"),
        "hidden": params.get("hidden_from_address_lists"), "full_access": full_access, "max_removals": params.get("max_removals"),
        "trustees": full_access.add + full_access.remove + (full_access.set or []),
        "permissions": full_access.given, "auto_mapping": params.get("auto_mapping", True),
    }


MAX_REMOVALS = 10

# -- automatic replies (Set-/Get-MailboxAutoReplyConfiguration) ---------------------------------------------------------
# The cmdlet's AutoReplyState and ExternalAudience values (cmdlet reference), by the option's value.
AUTO_REPLY_STATES = {"enabled": "Enabled", "scheduled": "Scheduled", "disabled": "Disabled"}
AUDIENCES = {"none": "None", "known": "Known", "all": "All"}
_TAG = re.compile(r"<[^>]*>")


def auto_reply_text(value):
    """A reply's text as compared: Exchange keeps the text as HTML (UNCONFIRMED: that Get- returns plain text given to Set-
    wrapped in <html><body>), so tags are dropped, entities decoded and whitespace collapsed on both sides."""
    text = _TAG.sub(" ", value or "")
    text = html_unescape(text)
    return " ".join(text.split())


def check_auto_reply(value):
    """The ``auto_reply`` option checked: ``{state, internal, external, audience, start, end}`` (None when not given)."""
    if value is None:
        return None
    if not value.get("enabled", True):
        return {"state": "disabled"}
    internal = (value.get("internal_message") or "").strip()
    if not internal:
        raise ValidationError("auto_reply.internal_message is empty; give the text colleagues get (external_message defaults to it), or set "
                              "auto_reply.enabled false to switch automatic replies off.", field="auto_reply")
    external = value.get("external_message")
    external = internal if external is None else external.strip()
    audience = (value.get("external_audience") or "all").lower()
    start, end = value.get("start"), value.get("end")
    if bool(start) != bool(end):
        raise ValidationError("auto_reply.start and auto_reply.end go together: give both for a scheduled reply, or neither for one that starts "
                              "now and stays on.", field="auto_reply")
    spec = {"state": "enabled", "internal": internal, "external": external, "audience": audience, "start": None, "end": None}
    if start:
        times = {}
        for name, text in (("start", start), ("end", end)):
            moment = parse_time(text)
            if moment is None:
                raise ValidationError("auto_reply.%s %r is not a time with its zone; write it like 2026-12-24T17:00:00+11:00 (or ...Z for UTC)."
                                      % (name, text), field="auto_reply")
            times[name] = moment
        if times["end"] <= times["start"]:
            raise ValidationError("auto_reply.end (%s) is not after auto_reply.start (%s); give an end after the start." % (end, start),
                                  field="auto_reply")
        spec.update(state="scheduled", start=utc_text(times["start"]), end=utc_text(times["end"]))
    return spec


def auto_reply_view(config):
    """The before/after shape of the automatic reply (None when Exchange has no settings for the mailbox)."""
    if config is None:
        return None
    state = str(config.get("AutoReplyState") or "Disabled").lower()
    view = {"state": state, "internal_message": auto_reply_text(config.get("InternalMessage")),
            "external_message": auto_reply_text(config.get("ExternalMessage")),
            "external_audience": str(config.get("ExternalAudience") or "None").lower(), "start": None, "end": None}
    if state == "scheduled":
        view["start"] = utc_text(parse_time(config.get("StartTime"), assume_utc=True)) or config.get("StartTime")
        view["end"] = utc_text(parse_time(config.get("EndTime"), assume_utc=True)) or config.get("EndTime")
    return view


def wanted_auto_reply(spec):
    if spec["state"] == "disabled":
        return None
    return {"state": spec["state"], "internal_message": auto_reply_text(spec["internal"]), "external_message": auto_reply_text(spec["external"]),
            "external_audience": spec["audience"], "start": spec["start"], "end": spec["end"]}


def plan_auto_reply(spec, config, identity):
    """``(call or None, after view)`` for the automatic reply ``spec`` against Exchange's ``config``."""
    before = auto_reply_view(config) or {"state": "disabled"}
    wanted = wanted_auto_reply(spec)
    if wanted is None:
        if before.get("state") == "disabled":
            return None, before
        return {"cmdlet": "Set-MailboxAutoReplyConfiguration", "parameters": {"Identity": identity, "AutoReplyState": "Disabled"}}, \
            dict(before, state="disabled")
    if all(before.get(key) == value for key, value in wanted.items()):
        return None, before
    params = {"Identity": identity, "AutoReplyState": AUTO_REPLY_STATES[spec["state"]], "InternalMessage": spec["internal"],
              "ExternalMessage": spec["external"], "ExternalAudience": AUDIENCES[spec["audience"]]}
    if spec["state"] == "scheduled":
        params.update(StartTime=spec["start"], EndTime=spec["end"])
    return {"cmdlet": "Set-MailboxAutoReplyConfiguration", "parameters": params}, wanted


def _trustee_key(value, where):
    value = (value or "").strip()
    if not value:
        raise ValidationError("%s has an empty entry; give UPNs or object ids." % where, field="full_access")
    if not is_guid(value) and value.count("@") != 1:
        raise ValidationError("%s entry %r is neither a UPN nor an object id." % (where, value), field="full_access")
    return value


def mailbox_view(mailbox, full_access=None):
    """The before/after shape of m365_mailbox."""
    if not mailbox:
        return {}
    details = mailbox.get("RecipientTypeDetails")
    forwarding = mailbox.get("ForwardingSmtpAddress") or ""
    if forwarding.lower().startswith("smtp:"):
        forwarding = forwarding[5:]
    view = {
        "type": TYPE_NAMES.get(details, (details or "").lower()),
        "recipient_type_details": details,
        "primary_smtp_address": mailbox.get("PrimarySmtpAddress"),
        "forwarding_address": forwarding or None,
        "forwarding_keep_copy": bool(mailbox.get("DeliverToMailboxAndForward")),
        "hidden_from_address_lists": bool(mailbox.get("HiddenFromAddressListsEnabled")),
    }
    if full_access is not None:
        view["full_access"] = sorted(full_access)
    return view


def plan_mailbox(spec, mailbox, full_access, trustees, owner, auto_reply=None):
    """Compare the spec with the mailbox; returns the plan (or raises ValidationError).

    ``full_access`` is the list of lower-case UPNs with FullAccess now (None when not read); ``trustees`` maps each
    full_access entry (lower-case) to its Graph user, or None for unknown users; ``owner`` is
    the mailbox's own Graph user. Plan: ``calls`` (Set-Mailbox -Type first, then one Set-Mailbox for the settings,
    then permission calls), ``before``, ``after``, ``conversion`` (target RecipientTypeDetails or None),
    ``granted``, ``revoked``.
    """
    identity = owner["id"]
    who = label(owner)
    before = mailbox_view(mailbox, full_access)
    after = dict(before)
    calls = []
    conversion = None
    if spec["type"] and before["type"] != spec["type"]:
        conversion = TYPE_DETAILS[spec["type"]]
        calls.append({"cmdlet": "Set-Mailbox", "parameters": {"Identity": identity, "Type": TYPE_PARAMETER[spec["type"]]}})
        after["type"], after["recipient_type_details"] = spec["type"], conversion
    settings = {}
    if spec["forwarding"] is not None and (before["forwarding_address"] or "").lower() != spec["forwarding"].lower():
        settings["ForwardingSmtpAddress"] = ("smtp:" + spec["forwarding"]) if spec["forwarding"] else None
        after["forwarding_address"] = spec["forwarding"] or None
    if spec["keep_copy"] is not None and before["forwarding_keep_copy"] != spec["keep_copy"]:
        settings["DeliverToMailboxAndForward"] = spec["keep_copy"]
        after["forwarding_keep_copy"] = spec["keep_copy"]
    if spec["hidden"] is not None and before["hidden_from_address_lists"] != spec["hidden"]:
        settings["HiddenFromAddressListsEnabled"] = spec["hidden"]
        after["hidden_from_address_lists"] = spec["hidden"]
    if settings:
        params = {"Identity": identity}
        params.update(settings)
        calls.append({"cmdlet": "Set-Mailbox", "parameters": params})
    if spec.get("auto_reply") is not None:
        before["auto_reply"] = auto_reply_view(auto_reply) or {"state": "disabled"}
        call, after["auto_reply"] = plan_auto_reply(spec["auto_reply"], auto_reply, identity)
        if call is not None:
            calls.append(call)
    granted, revoked = [], []
    if spec["permissions"]:
        held = sorted(set(full_access or []))
        change = spec["full_access"]

        def resolved(keys, where, known_only):
            out = []
            for key in keys:
                user = trustees.get(key.lower())
                if user is None:
                    if known_only:
                        continue  # someone who is not in the tenant holds no access to take away
                    raise ValidationError("full_access.%s: %s is not a user in this tenant." % (where, key), field="full_access")
                if user["id"] == owner["id"] and where != "remove":
                    raise ValidationError("full_access.%s: %s is the mailbox's own user, who has full access already." % (where, key),
                                          field="full_access")
                out.append(user["userPrincipalName"].lower())
            return out

        by_upn = _model.ListChange({
            "add": resolved(change.add, "add", False), "remove": resolved(change.remove, "remove", True),
            "set": resolved(change.set, "set", False) if change.set is not None else None}, "full_access")
        granted, revoked = by_upn.plan(held)
        if revoked:
            _model.check_removals(revoked, spec["max_removals"], len(held), MAX_REMOVALS, "users' full access", "%s's mailbox" % who)
        for upn in granted:
            params = {"Identity": identity, "User": upn, "AccessRights": ["FullAccess"], "InheritanceType": "All",
                      "AutoMapping": spec["auto_mapping"]}
            calls.append({"cmdlet": "Add-MailboxPermission", "parameters": params})
        for upn in revoked:
            params = {"Identity": identity, "User": upn, "AccessRights": ["FullAccess"], "InheritanceType": "All", "Confirm": False}
            calls.append({"cmdlet": "Remove-MailboxPermission", "parameters": params})
        after["full_access"] = sorted(by_upn.after(held))
    return {"calls": calls, "before": before, "after": after, "conversion": conversion, "granted": granted, "revoked": revoked}


def public_calls(calls):
    """The calls as shown to people: cmdlet and parameter names."""
    return [{"cmdlet": c["cmdlet"], "method": "POST", "path": "InvokeCommand", "parameters": sorted(c["parameters"])} for c in calls]


def wait_for_type(client, identity, target, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll Get-Mailbox until RecipientTypeDetails is ``target``; returns (mailbox, polls). ValidationError on timeout."""
    seen = wait_until(lambda: client.get_mailbox(identity), timeout, done=lambda m: m is not None and m.get("RecipientTypeDetails") == target,
                      sleep=sleep, clock=clock)
    if seen.done:
        return seen.value, seen.polls
    shown = seen.value.get("RecipientTypeDetails") if seen.value else "no mailbox"
    raise ValidationError(
        "Exchange accepted the conversion to %s but still shows %s after %d seconds (wait_timeout). The conversion is not done; "
        "do not remove licences yet. Run the task again later; it reports done only when Exchange shows %s."
        % (target, shown, timeout, target), field="wait_timeout")


def _decode(response):
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
