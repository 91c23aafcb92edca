"""Exchange Online's admin API: ``POST /adminapi/beta/{tenant}/InvokeCommand`` (``ExchangeApp``).

Reference graph.md 8.2: the endpoint Microsoft's ExchangeOnlineManagement module uses in REST mode. Microsoft does not
document it. The token's audience must be the Exchange URL, it must carry the ``Exchange.ManageAsApp`` role, and the app must
hold the Exchange Administrator (or Global Administrator) directory role. Cmdlets: Get-Mailbox, Get-AcceptedDomain,
Set-Mailbox, Add-/Get-/Remove-MailboxPermission, Get-/Set-MailboxAutoReplyConfiguration, Get-/Remove-MobileDevice,
Get-DistributionGroup and Add-/Get-/Remove-DistributionGroupMember. They work on the tenant's mailboxes
(exchange_state.Mailboxes, ``Tenant.exchange``) and on its mail-enabled groups that are not Microsoft 365 groups
(distribution lists, mail-enabled security groups), whose membership Exchange owns. The 401 body is the one quoted in
MicrosoftDocs/office-docs-powershell issue 7970.
"""

import base64
import contextlib
import json
import logging
import re
import uuid
from urllib.parse import unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth
from .errors import GraphError
from .exchange_state import (BAD_PROXY_PREFIX, SELF, ExchangeError, check_syntax, cmdlet_error, invalid, not_found, now_iso,
                             parameter_error, split_proxy)

LOG = logging.getLogger("tests.sandbox.exchange")

# Directory role template ids (Entra built-in roles reference; state.py defines the same constants). Either role
# lets an app use Exchange app-only (office-docs-powershell app-only-auth-powershell-v2.md lists the supported roles).
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ROLES = frozenset([EXCHANGE_ADMIN, GLOBAL_ADMIN])
MANAGE_AS_APP = "Exchange.ManageAsApp"

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
DEFAULT_PAGE_SIZE = 1000  # UNCONFIRMED: the page size without a Prefer header; clients send odata.maxpagesize=1000.
DEFAULT_RESULT_SIZE = 1000  # Get-Mailbox returns 1000 objects unless -ResultSize says otherwise (cmdlet docs).
SKIPTOKEN_PREFIX = "MDAwMDAwMDAt"
TYPES = {"regular": "UserMailbox", "shared": "SharedMailbox"}
COMMAND_NOT_FOUND_TYPE = "System.Management.Automation.CommandNotFoundException"

# The unknown-parameter and unknown-command messages are PowerShell's own wording; the others are UNCONFIRMED unless marked.
UNKNOWN_PARAMETER = "A parameter cannot be found that matches parameter name '{name}'."
MISSING_PARAMETER = "Cannot process command because of one or more missing mandatory parameters: {names}."
CONVERT = "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{type}\"."
UNKNOWN_COMMAND = ("The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the "
                   "spelling of the name, or if a path was included, verify that the path is correct and try again.")
NOT_MODIFIED = "The command completed successfully but no settings of '{name}' have been modified."
ACE_MISSING = ("Can't remove the access control entry on the object \"{name}\" for account \"{user}\" because the ACE doesn't exist "
               "on the object.")
NOT_ALLOWED = "User is not allowed to call {cmdlet}"  # issue 7970's body, for a token without Exchange.ManageAsApp (UNCONFIRMED cause)
# The answer when the tenant has exchange_max_concurrency calls in flight already. The text up to "Please wait and try again"
# is what GreyCorbel/ExoHelper (Invoke-ExoCommand.ps1) matches, as plain text, to wait and retry; the rest of it, the status
# (429) and the absence of a Retry-After header are UNCONFIRMED.
CONCURRENCY_LIMITED = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."
INVOKE_PATH = re.compile(r"^/adminapi/beta/[^/]+/InvokeCommand/?$", re.IGNORECASE)
ROLE_NOT_SUPPORTED = ("The role assigned to application {app_id} isn't supported in this scenario. Please check online documentation "
                      "for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.")

# --------------------------------------------------------------------------------------------------------------
# Cmdlets


class Cmdlet:
    """One cmdlet's parameter rules: names (case-insensitive), mandatory ones, booleans."""

    def __init__(self, name, params, mandatory=(), booleans=(), write=False):
        self.name = name
        self.params = {param.lower(): param for param in params}
        self.mandatory = mandatory
        self.booleans = booleans
        self.write = write

    def bind(self, raw):
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise parameter_error("Cannot bind the parameters of %s: Parameters must be an object." % self.name)  # UNCONFIRMED
        bound = {}
        for key, value in raw.items():
            canonical = self.params.get(key.lower())
            if canonical is None:
                raise parameter_error(UNKNOWN_PARAMETER.format(name=key))
            if canonical in self.booleans and not isinstance(value, bool):
                raise parameter_error(CONVERT.format(name=canonical, value=value, type="System.Boolean"))
            bound[canonical] = value
        missing = [name for name in self.mandatory if bound.get(name) in (None, "")]
        if missing:
            raise parameter_error(MISSING_PARAMETER.format(names=", ".join(missing)))
        return bound


COMMON = ("ErrorAction", "WarningAction", "Confirm", "WhatIf", "Verbose")
CMDLETS = {
    "get-mailbox": Cmdlet("Get-Mailbox", ("Identity", "ResultSize", "RecipientTypeDetails") + COMMON),
    "get-accepteddomain": Cmdlet("Get-AcceptedDomain", ("Identity",) + COMMON),
    "set-mailbox": Cmdlet("Set-Mailbox", ("Identity", "EmailAddresses", "Type", "ForwardingSmtpAddress", "DeliverToMailboxAndForward",
                                          "HiddenFromAddressListsEnabled", "Force") + COMMON,
                          mandatory=("Identity",), booleans=("DeliverToMailboxAndForward", "HiddenFromAddressListsEnabled"), write=True),
    "get-mailboxpermission": Cmdlet("Get-MailboxPermission", ("Identity", "User") + COMMON, mandatory=("Identity",)),
    "add-mailboxpermission": Cmdlet("Add-MailboxPermission", ("Identity", "User", "AccessRights", "InheritanceType", "AutoMapping") + COMMON,
                                    mandatory=("Identity", "User", "AccessRights"), booleans=("AutoMapping",), write=True),
    "remove-mailboxpermission": Cmdlet("Remove-MailboxPermission", ("Identity", "User", "AccessRights", "InheritanceType",
                                                                    "BypassMasterAccountSid") + COMMON,
                                       mandatory=("Identity", "User", "AccessRights"), write=True),
    "get-distributiongroup": Cmdlet("Get-DistributionGroup", ("Identity", "ResultSize") + COMMON),
    "get-distributiongroupmember": Cmdlet("Get-DistributionGroupMember", ("Identity", "ResultSize") + COMMON, mandatory=("Identity",)),
    "add-distributiongroupmember": Cmdlet("Add-DistributionGroupMember", ("Identity", "Member", "BypassSecurityGroupManagerCheck") + COMMON,
                                          mandatory=("Identity", "Member"), booleans=("BypassSecurityGroupManagerCheck",), write=True),
    "remove-distributiongroupmember": Cmdlet("Remove-DistributionGroupMember", ("Identity", "Member", "BypassSecurityGroupManagerCheck") +
                                             COMMON, mandatory=("Identity", "Member"), booleans=("BypassSecurityGroupManagerCheck",),
                                             write=True),
    # Automatic replies (Set-/Get-MailboxAutoReplyConfiguration cmdlet reference; CIPP's Set-CIPPOutOfOffice sends them through
    # this endpoint) and mobile devices (Get-MobileDevice -Mailbox, Remove-MobileDevice -Identity, as CIPP's Remove-CIPPMobileDevice).
    "get-mailboxautoreplyconfiguration": Cmdlet("Get-MailboxAutoReplyConfiguration", ("Identity", "ResultSize") + COMMON, mandatory=("Identity",)),
    "set-mailboxautoreplyconfiguration": Cmdlet("Set-MailboxAutoReplyConfiguration", ("Identity", "AutoReplyState", "InternalMessage",
                                                                                      "ExternalMessage", "ExternalAudience", "StartTime",
                                                                                      "EndTime") + COMMON,
                                                mandatory=("Identity",), write=True),
    "get-mobiledevice": Cmdlet("Get-MobileDevice", ("Identity", "Mailbox", "ResultSize") + COMMON),
    "remove-mobiledevice": Cmdlet("Remove-MobileDevice", ("Identity",) + COMMON, mandatory=("Identity",), write=True),
}
AUTO_REPLY_STATES = {"enabled": "Enabled", "disabled": "Disabled", "scheduled": "Scheduled"}
AUDIENCES = {"none": "None", "known": "Known", "all": "All"}
# UNCONFIRMED: that Exchange keeps (and Get- returns) a reply given as plain text wrapped in HTML, in this form.
HTML_REPLY = "<html>\n<body>\n{text}\n</body>\n</html>\n"
END_BEFORE_START = "The end time must be later than the start time."  # UNCONFIRMED wording


def _reply_html(text):
    if not text:
        return ""
    if text.lstrip().lower().startswith("<html"):
        return text
    return HTML_REPLY.format(text=text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _exchange_time(value, name):
    """A DateTime parameter as the admin API returns it (UTC, no zone: UNCONFIRMED)."""
    from datetime import datetime, timezone
    text = str(value or "").strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise parameter_error(CONVERT.format(name=name, value=value, type="System.DateTime"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _access_rights(value):
    rights = value if isinstance(value, list) else [value]
    names = [str(item).strip() for item in rights]
    if [name.lower() for name in names] != ["fullaccess"]:
        # UNCONFIRMED wording; the sandbox emulates FullAccess only.
        raise parameter_error("Cannot process argument transformation on parameter 'AccessRights'. The sandbox emulates only FullAccess, "
                              "not %s." % ", ".join(names))


class ExchangeApp:
    """The Exchange admin API over a runtime (tenant, tokens, urls)."""

    def __init__(self, runtime):
        self.rt = runtime
        self.in_flight = 0  # InvokeCommand calls being served now, for the tenant's concurrency limit
        self.app = Starlette(routes=[
            Route("/adminapi/beta/{tenant}/InvokeCommand", self.invoke, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    @property
    def tenant(self):
        return self.rt.tenant

    @property
    def exchange(self):
        """The tenant's mailboxes (exchange_state.Mailboxes)."""
        return self.rt.tenant.exchange

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    # -- HTTP ------------------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def admit(self, scope, receive, send):
        """The per-tenant concurrency limit (knob exchange_max_concurrency), around everything the server does for an
        InvokeCommand call (latency included): yields False, having answered CONCURRENCY_LIMITED, when the call would be one
        too many in flight."""
        if scope["method"] != "POST" or not INVOKE_PATH.match(scope["path"]):
            yield True
            return
        limit = self.tenant.config.get("exchange_max_concurrency")
        self.in_flight += 1
        try:
            if limit is not None and self.in_flight > limit:
                await self._refuse_concurrency(scope, receive, send)
                yield False
            else:
                yield True
        finally:
            self.in_flight -= 1

    async def _refuse_concurrency(self, scope, receive, send):
        request = Request(scope, receive)
        raw = await request.body()
        entry, _, _, _ = self._log_call(request, raw, 429)
        entry["fault"] = "concurrency_limit"
        response = Response(CONCURRENCY_LIMITED.encode("utf-8"), status_code=429, media_type="text/plain; charset=utf-8",
                            headers={"request-id": str(uuid.uuid4()), "Cache-Control": "no-cache"})
        await response(scope, receive, send)

    def _log_call(self, request, raw, status):
        """The request log entry of an InvokeCommand call (with its cmdlet and the Identity as given), and the parsed
        (CmdletInput, cmdlet name, Parameters), any of them None when the body does not have it."""
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = None
        cmdlet_input = body.get("CmdletInput") if isinstance(body, dict) else None
        name = cmdlet_input.get("CmdletName") if isinstance(cmdlet_input, dict) else None
        params = cmdlet_input.get("Parameters") if isinstance(cmdlet_input, dict) else None
        name_text = name if isinstance(name, str) else ""
        entry = self.tenant.log_request("exchange", request.method, request.url.path, request.url.query, status,
                                        app_id=auth.peek_app_id(request.headers.get("authorization")),
                                        write=not name_text.lower().startswith("get-"),
                                        body_keys=sorted(params) if isinstance(params, dict) else [])
        entry["cmdlet"] = name_text or None
        identity = params.get("Identity") if isinstance(params, dict) else None
        entry["identity"] = identity if isinstance(identity, str) else None  # the target, as the caller named it
        return entry, cmdlet_input, name, params

    def _respond(self, status, body, request_id, headers=None):
        all_headers = {"request-id": request_id, "X-Request-Id": request_id, "Cache-Control": "no-cache", "OData-Version": "4.0"}
        all_headers.update(headers or {})
        return Response(json.dumps(body).encode("utf-8"), status_code=status, headers=all_headers, media_type=JSON_TYPE)

    async def unknown(self, request):
        request_id = str(uuid.uuid4())
        self.tenant.log_request("exchange", request.method, request.url.path, request.url.query, 404,
                                app_id=auth.peek_app_id(request.headers.get("authorization")), write=request.method != "GET")
        # UNCONFIRMED: the body for a path the admin API does not serve.
        error = ExchangeError(404, "NotFound", "The resource '%s' was not found." % request.url.path)
        return self._respond(404, error.body(), request_id)

    async def invoke(self, request: Request):
        raw = await request.body()
        request_id = str(uuid.uuid4())
        self.exchange.settle()
        entry, cmdlet_input, name, params = self._log_call(request, raw, None)
        name_text = name if isinstance(name, str) else ""
        headers = {}
        try:
            if request.method != "POST":
                raise ExchangeError(405, "MethodNotAllowed", "The HTTP method '%s' is not allowed for InvokeCommand." % request.method)  # UNCONFIRMED
            claims = self._authorise(request, name_text)
            self._check_tenant(request.path_params["tenant"])
            if not isinstance(cmdlet_input, dict) or not isinstance(name, str):
                # UNCONFIRMED wording.
                raise ExchangeError(400, "BadRequest", "The request body must be {\"CmdletInput\": {\"CmdletName\": ..., \"Parameters\": {...}}}.")
            entry["app_id"] = claims.get("appid")
            status, payload = self.run(request, name, params)
            if name_text.lower() == "get-mailbox":
                # What this answer showed, for checks on the order of events: object id -> RecipientTypeDetails.
                entry["recipient_types"] = dict(((item.get("ExternalDirectoryObjectId") or entry["identity"] or "").lower(),
                                                 item["RecipientTypeDetails"]) for item in payload["value"] if item.get("RecipientTypeDetails"))
        except ExchangeError as exc:
            status, payload = exc.status, exc.body()
            if exc.status == 401:
                headers["WWW-Authenticate"] = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                                               'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"')
        except Exception:  # a sandbox bug: answer 500 and keep serving
            LOG.exception("unhandled error in %s", name_text)
            status, payload = 500, ExchangeError(500, "InternalServerError", "An unexpected error occurred in the sandbox.").body()
        entry["status"] = status
        return self._respond(status, payload, request_id, headers)

    def _authorise(self, request, cmdlet):
        try:
            claims = self.rt.tokens.validate(request.headers.get("authorization"), self.rt.urls["exchange"])
        except GraphError as exc:
            raise ExchangeError(401, "Unauthorized", exc.message)
        if MANAGE_AS_APP not in (claims.get("roles") or []):
            raise ExchangeError(401, "Unauthorized", NOT_ALLOWED.format(cmdlet=cmdlet or "InvokeCommand"))
        app = self.tenant.app(claims.get("appid"))
        roles = set(getattr(app, "directory_roles", None) or ())
        # Roles assigned through Graph to the app's service principal count too, once the tenant models them.
        held = getattr(self.tenant, "principal_role_ids", None)
        if app is not None and held is not None:
            try:
                roles |= set(held(app.object_id) or ())
            except Exception:  # an interface still being built must not break Exchange
                LOG.debug("principal_role_ids failed", exc_info=True)
        if not roles & EXCHANGE_ROLES:
            raise ExchangeError(401, "Unauthorized", ROLE_NOT_SUPPORTED.format(app_id=claims.get("appid")))
        return claims

    def _check_tenant(self, tenant):
        names = {self.tenant.tenant_id.lower()} | {name.lower() for name in self.tenant.domains}
        if tenant.lower() not in names:
            # UNCONFIRMED: the answer for a tenant the token does not belong to.
            raise ExchangeError(404, "NotFound", "Tenant '%s' was not found." % tenant)

    # -- the cmdlet runner -----------------------------------------------------------------------------------------

    def run(self, request, name, params):
        cmdlet = CMDLETS.get(name.lower())
        if cmdlet is None:
            raise cmdlet_error(400, COMMAND_NOT_FOUND_TYPE, UNKNOWN_COMMAND.format(name=name))
        bound = cmdlet.bind(params)
        warnings = []
        items = getattr(self, "_" + cmdlet.name.lower().replace("-", "_"))(bound, warnings)
        return 200, self._page(request, items, warnings)

    def _page(self, request, items, warnings):
        size = DEFAULT_PAGE_SIZE
        match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", request.headers.get("prefer", ""))
        if match:
            size = max(1, min(int(match.group(1)), DEFAULT_PAGE_SIZE))
        offset = 0
        query = {}
        for part in request.url.query.split("&"):
            if part:
                key, _, value = part.partition("=")
                query[unquote_plus(key).lower()] = unquote_plus(value)
        token = query.get("$skiptoken")
        if token is not None:
            try:
                offset = int(base64.urlsafe_b64decode(token[len(SKIPTOKEN_PREFIX):] + "==").decode())
                if not token.startswith(SKIPTOKEN_PREFIX) or offset < 0:
                    raise ValueError(token)
            except (ValueError, UnicodeDecodeError):
                raise ExchangeError(400, "BadRequest", "The skip token is not valid.")  # UNCONFIRMED
        select = [name.strip() for name in (query.get("$select") or "").split(",") if name.strip()]
        if select:
            keep = {name.lower() for name in select}
            items = [{key: value for key, value in item.items() if key.lower() in keep or key.lower().split("@")[0] in keep}
                     for item in items]
        tenant = request.path_params["tenant"]
        body = {"@odata.context": "%s/adminapi/beta/%s/$metadata#Collection(Exchange.GenericHashTable)" % (self.rt.urls["exchange"], tenant),
                "adminapi.warnings@odata.type": "#Collection(String)", "@adminapi.warnings": warnings}
        page = items[offset:offset + size]
        if offset + size < len(items):
            parts = ["%s=%s" % (key, value) for key, value in (("$select", query.get("$select")),) if value]
            parts.append("$skiptoken=" + SKIPTOKEN_PREFIX + base64.urlsafe_b64encode(str(offset + size).encode()).decode().rstrip("="))
            body["@odata.nextLink"] = "%s/adminapi/beta/%s/InvokeCommand?%s" % (self.rt.urls["exchange"], tenant, "&".join(parts))
        body["value"] = page
        return body

    # -- cmdlets ---------------------------------------------------------------------------------------------------

    def _get_mailbox(self, params, warnings):
        exchange = self.exchange
        if params.get("Identity") not in (None, ""):
            return [exchange.mailbox_view(exchange.find_mailbox(params["Identity"]))]
        wanted = params.get("RecipientTypeDetails")
        if wanted is not None:
            wanted = {str(item).lower() for item in (wanted if isinstance(wanted, list) else str(wanted).split(","))}
        items = [exchange.mailbox_view(user_id) for user_id, mailbox in exchange.mailboxes.items()
                 if mailbox["state"] == "active" and exchange.user_active(user_id)
                 and (wanted is None or mailbox["type"].lower() in {w.strip() for w in wanted})]
        size = params.get("ResultSize", DEFAULT_RESULT_SIZE)
        if isinstance(size, str) and size.lower() == "unlimited":
            return items
        try:
            size = int(size)
        except (TypeError, ValueError):
            raise parameter_error(CONVERT.format(name="ResultSize", value=size, type="Microsoft.Exchange.Data.Unlimited`1[System.UInt32]"))
        if len(items) > size:
            warnings.append("There are more results available than are currently displayed. To view them, increase the value for the "
                            "ResultSize parameter.")
        return items[:size]

    def _get_accepteddomain(self, params, warnings):
        out = []
        for domain in self.exchange.accepted_domains():
            name = domain["id"]
            out.append({"Identity": name, "Id": name, "Name": name, "DomainName": name, "DomainType": "Authoritative",
                        "Default": bool(domain["isDefault"]), "InitialDomain": bool(domain["isInitial"]), "IsValid": True,
                        "Guid": str(uuid.uuid5(uuid.NAMESPACE_DNS, "accepted-domain:" + name))})
        identity = params.get("Identity")
        if identity:
            out = [item for item in out if item["Name"].lower() == str(identity).lower()]
            if not out:
                raise not_found(identity)
        return out

    def _set_mailbox(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        # Check everything first, then change: a refused call changes nothing.
        new_addresses = None
        if "EmailAddresses" in params:
            value = params["EmailAddresses"]
            if isinstance(value, dict):
                new_addresses = exchange.apply_hashtable(mailbox, value)
            elif isinstance(value, list) or isinstance(value, str):
                new_addresses = exchange.full_list(mailbox, value if isinstance(value, list) else [value])
            else:
                raise parameter_error(CONVERT.format(name="EmailAddresses", value=value, type="Microsoft.Exchange.Data.ProxyAddressCollection"))
        target = None
        if "Type" in params:
            kind = str(params["Type"] or "")
            target = TYPES.get(kind.lower())
            if target is None:
                # UNCONFIRMED wording; Room and Equipment exist in Exchange, the sandbox emulates Regular and Shared.
                raise parameter_error("Cannot process argument transformation on parameter 'Type'. The sandbox emulates Regular and Shared, "
                                      "not '%s'." % kind)
        forwarding = mailbox["forwarding"]
        if "ForwardingSmtpAddress" in params:
            value = params["ForwardingSmtpAddress"]
            if value in (None, ""):
                forwarding = None
            else:
                if not isinstance(value, str):
                    raise parameter_error(CONVERT.format(name="ForwardingSmtpAddress", value=value, type="Microsoft.Exchange.Data.ProxyAddress"))
                prefix, address = split_proxy(value)
                if prefix.lower() != "smtp":
                    raise invalid(BAD_PROXY_PREFIX.format(proxy=value))
                check_syntax(address)
                forwarding = "smtp:" + address
        changed = False
        if new_addresses is not None:
            changed = exchange.set_email_addresses(user_id, new_addresses) or changed
        if target is not None:
            changed = exchange.set_mailbox_type(user_id, target) or changed
        for key, param in (("forwarding", None), ("deliver_and_forward", "DeliverToMailboxAndForward"),
                           ("hidden", "HiddenFromAddressListsEnabled")):
            value = forwarding if param is None else params.get(param, mailbox[key])
            if mailbox[key] != value:
                mailbox[key] = value
                changed = True
        if changed:
            mailbox["changed"] = now_iso()
        else:
            warnings.append(NOT_MODIFIED.format(name=mailbox["name"]))
        return []

    def _get_mailboxautoreplyconfiguration(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        reply = dict(mailbox["auto_reply"])
        return [dict(reply, Identity=mailbox["name"], MailboxOwnerId=mailbox["name"], AutoDeclineFutureRequestsWhenOOF=False,
                     DeclineEventsForScheduledOOF=False, IsValid=True)]

    def _set_mailboxautoreplyconfiguration(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        new = dict(mailbox["auto_reply"])
        for name, values, kind in (("AutoReplyState", AUTO_REPLY_STATES, "OofState"), ("ExternalAudience", AUDIENCES, "ExternalAudience")):
            if name in params:
                value = values.get(str(params[name] or "").lower())
                if value is None:
                    raise parameter_error(CONVERT.format(name=name, value=params[name], type="Microsoft.Exchange.InfoWorker.Common.OOF." + kind))
                new[name] = value
        for name in ("InternalMessage", "ExternalMessage"):
            if name in params:
                new[name] = _reply_html(params[name] or "")
        for name in ("StartTime", "EndTime"):
            if name in params:
                new[name] = _exchange_time(params[name], name)
        if new["AutoReplyState"] == "Scheduled":
            if not new["StartTime"] or not new["EndTime"] or new["EndTime"] <= new["StartTime"]:
                raise invalid(END_BEFORE_START)
        if new == mailbox["auto_reply"]:
            warnings.append(NOT_MODIFIED.format(name=mailbox["name"]))
        mailbox["auto_reply"] = new
        return []

    def _get_mobiledevice(self, params, warnings):
        exchange = self.exchange
        if params.get("Mailbox") not in (None, ""):
            user_ids = [exchange.find_mailbox(params["Mailbox"])]
        else:
            user_ids = [uid for uid, mailbox in exchange.mailboxes.items() if mailbox["state"] == "active" and exchange.user_active(uid)]
        out = []
        for user_id in user_ids:
            for device in exchange.mailboxes[user_id]["devices"]:
                out.append(dict(device, UserDisplayName=exchange.mailboxes[user_id]["name"], DeviceAccessState="Allowed"))
        if params.get("Identity"):
            key = str(params["Identity"]).lower()
            out = [d for d in out if key in (d["Identity"].lower(), d["Guid"].lower(), d["DeviceId"].lower())]
            if not out:
                raise not_found(params["Identity"])
        return out

    def _remove_mobiledevice(self, params, warnings):
        exchange = self.exchange
        key = str(params["Identity"]).lower()
        for user_id, mailbox in exchange.mailboxes.items():
            for device in list(mailbox["devices"]):
                if key in (device["Identity"].lower(), device["Guid"].lower()):
                    mailbox["devices"].remove(device)
                    return []
        raise not_found(params["Identity"])

    def _permission_view(self, mailbox, user, rights, inherited=False):
        return {"Identity": mailbox["name"], "User": user, "AccessRights@odata.type": "#Collection(String)", "AccessRights": rights,
                "IsInherited": inherited, "Deny": False, "InheritanceType": "All"}

    def _get_mailboxpermission(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        out = [self._permission_view(mailbox, SELF, ["FullAccess", "ReadPermission"])]
        for trustee in mailbox["permissions"]:
            upn = exchange.upn_of(trustee)
            if upn:
                out.append(self._permission_view(mailbox, upn, ["FullAccess"]))
        if params.get("User"):
            trustee = exchange.find_trustee(params["User"])
            out = [item for item in out if item["User"] == exchange.upn_of(trustee)]
        return out

    def _add_mailboxpermission(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        _access_rights(params["AccessRights"])
        trustee = exchange.find_trustee(params["User"])
        mailbox["permissions"][trustee] = {"auto_mapping": params.get("AutoMapping", True)}
        return [self._permission_view(mailbox, exchange.upn_of(trustee), ["FullAccess"])]

    def _remove_mailboxpermission(self, params, warnings):
        exchange = self.exchange
        user_id = exchange.find_mailbox(params["Identity"])
        mailbox = exchange.mailboxes[user_id]
        _access_rights(params["AccessRights"])
        trustee = exchange.find_trustee(params["User"])
        if trustee in mailbox["permissions"]:
            del mailbox["permissions"][trustee]
        else:
            warnings.append(ACE_MISSING.format(name=mailbox["name"], user=params["User"]))
        return []

    def _get_distributiongroup(self, params, warnings):
        exchange = self.exchange
        if params.get("Identity") not in (None, ""):
            return [exchange.distribution_group_view(exchange.find_distribution_group(params["Identity"]))]
        return [exchange.distribution_group_view(record) for record in self.tenant.records.values()
                if record.entity == "group" and self.tenant._view(record)[0] == "group"
                and exchange.is_distribution_group(self.tenant._view(record)[1])]

    def _get_distributiongroupmember(self, params, warnings):
        exchange = self.exchange
        return exchange.distribution_group_members(exchange.find_distribution_group(params["Identity"]))

    def _add_distributiongroupmember(self, params, warnings):
        self.exchange.change_distribution_group_member("Add-DistributionGroupMember", params["Identity"], params["Member"],
                                                       params.get("BypassSecurityGroupManagerCheck", False), add=True)
        return []

    def _remove_distributiongroupmember(self, params, warnings):
        self.exchange.change_distribution_group_member("Remove-DistributionGroupMember", params["Identity"], params["Member"],
                                                       params.get("BypassSecurityGroupManagerCheck", False), add=False)
        return []
