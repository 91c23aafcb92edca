"""Exchange Online: the tenant's mailboxes and the admin API's ``InvokeCommand`` endpoint.

Two parts, one file:

- ``MailboxMixin``: Exchange's model, mixed into ``state.Tenant`` so every service works on the same tenant. A
  mailbox appears when an Exchange-bearing licence is assigned (after ``mailbox_provisioning_delay_s``), its
  addresses are unique across the tenant and limited to accepted domains (the tenant's verified domains), its
  ``*.onmicrosoft.com`` routing address stays, and the user's Graph ``mail`` and ``proxyAddresses`` follow it.
  A conversion to or from a shared mailbox shows only after ``shared_conversion_delay_s``.
- ``ExchangeApp``: ``POST /adminapi/beta/{tenant}/InvokeCommand`` (reference graph.md 8.2), the endpoint Microsoft's
  ExchangeOnlineManagement module uses in REST mode. Microsoft does not document it. The token's audience must
  be the Exchange URL, it must carry the ``Exchange.ManageAsApp`` role, and the app must hold the Exchange
  Administrator (or Global Administrator) directory role. Cmdlets: Get-Mailbox, Get-AcceptedDomain, Set-Mailbox,
  Add-/Get-/Remove-MailboxPermission.

Error bodies follow the shape clients parse (reference 8.2; CIPP's New-ExoRequest, GreyCorbel's ExoHelper):
``error.details[].message`` is ``"<ErrorId>|<exception type>|<text>"``, ``error.innererror.internalException``
holds the text and the type, ``error.message`` is generic. The 401 body is the one quoted in
MicrosoftDocs/office-docs-powershell issue 7970. Wordings and statuses not seen in a public source are marked
UNCONFIRMED where they are defined.

This module must not import ``state`` at load time: ``state`` imports it for the mixin.
"""

import base64
import copy
import datetime
import hashlib
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
SERVER = "SY4PR01MB6158.AUSPRD01.PROD.OUTLOOK.COM"  # the mailbox server named in not-found messages (made up)
SKIPTOKEN_PREFIX = "MDAwMDAwMDAt"
TYPES = {"regular": "UserMailbox", "shared": "SharedMailbox"}
# RecipientTypeDetails of the mailboxes the sandbox models (Get-Mailbox lists them all). Room and equipment mailboxes are
# resource mailboxes: they need no licence and their accounts have sign-in blocked; the seed creates them (seed_mailbox).
MAILBOX_TYPES = ("UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox")
RESOURCE_TYPES = {"RoomMailbox": "Room", "EquipmentMailbox": "Equipment"}
SELF = "NT AUTHORITY\\SELF"

# --------------------------------------------------------------------------------------------------------------
# Errors

GENERIC_MESSAGE = "Error executing cmdlet"  # UNCONFIRMED: the top-level message next to the details.
ODATA_EXCEPTION = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
NOT_FOUND_TYPE = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
VALIDATION_TYPE = "Microsoft.Exchange.Data.DataValidationException"  # UNCONFIRMED type for address errors
PROXY_EXISTS_TYPE = "Microsoft.Exchange.Management.Tasks.ProxyAddressExistsException"  # UNCONFIRMED
INVALID_OPERATION_TYPE = "Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException"  # UNCONFIRMED
PARAMETER_TYPE = "System.Management.Automation.ParameterBindingException"
COMMAND_NOT_FOUND_TYPE = "System.Management.Automation.CommandNotFoundException"

# Messages. The not-found one (with error id Ex6F9304), the address syntax one, the proxy-address conflict one, the
# unknown-parameter and unknown-command ones are Exchange's and PowerShell's own wording; the others are UNCONFIRMED.
NOT_FOUND = "The operation couldn't be performed because object '{identity}' couldn't be found on '{server}'."
BAD_ADDRESS = ("The e-mail address \"{address}\" isn't correct. Please use this format: user name, the @ sign, followed by the domain "
               "name. For example, tonysmith@contoso.com or tony.smith@contoso.com.")
PROXY_EXISTS = ("The proxy address \"{proxy}\" is already being used by the proxy addresses or LegacyExchangeDN of \"{owner}\". "
                "Please choose another proxy address.")
NOT_ACCEPTED = "You can't use the domain {domain} because it's not an accepted domain for your organization."  # UNCONFIRMED
ROUTING_REMOVAL = ("You can't remove the e-mail address \"{address}\" because it's the Microsoft Online Services routing address "
                   "of this recipient.")  # UNCONFIRMED
PRIMARY_REMOVAL = ("You can't remove the primary SMTP address \"{address}\". Make another address the primary SMTP address "
                   "first.")  # UNCONFIRMED
TWO_PRIMARIES = "The EmailAddresses list can contain only one primary SMTP address (SMTP:); it has {count}."  # UNCONFIRMED
BAD_PROXY_PREFIX = "The proxy address \"{proxy}\" has a prefix Exchange doesn't recognize."  # UNCONFIRMED
DUPLICATE_PROXY = "The proxy address \"{proxy}\" is in the list more than once."  # UNCONFIRMED
UNKNOWN_PARAMETER = "A parameter cannot be found that matches parameter name '{name}'."
MISSING_PARAMETER = "Cannot process command because of one or more missing mandatory parameters: {names}."
CONVERT = "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{type}\"."
UNKNOWN_COMMAND = ("The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the "
                   "spelling of the name, or if a path was included, verify that the path is correct and try again.")
NOT_MODIFIED = "The command completed successfully but no settings of '{name}' have been modified."
ACE_MISSING = ("Can't remove the access control entry on the object \"{name}\" for account \"{user}\" because the ACE doesn't exist "
               "on the object.")
NOT_ALLOWED = "User is not allowed to call {cmdlet}"  # issue 7970's body, for a token without Exchange.ManageAsApp (UNCONFIRMED cause)
ROLE_NOT_SUPPORTED = ("The role assigned to application {app_id} isn't supported in this scenario. Please check online documentation "
                      "for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.")


class ExchangeError(Exception):
    """A failed cmdlet: HTTP status, error code, text, and (for cmdlet errors) Exchange's error id and exception type."""

    def __init__(self, status, code, message, error_id=None, exception_type=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_id = error_id
        self.exception_type = exception_type

    def body(self):
        if self.exception_type is None:
            return {"error": {"code": self.code, "message": self.message,
                              "innererror": {"message": self.message, "type": ODATA_EXCEPTION}}}
        detail = "%s|%s|%s" % (self.error_id, self.exception_type, self.message)
        # UNCONFIRMED: details as a list of one entry (PowerShell's member enumeration reads a list or an object alike).
        return {"error": {"code": self.code, "message": GENERIC_MESSAGE,
                          "details": [{"code": "Context", "target": "", "message": detail}],
                          "innererror": {"message": GENERIC_MESSAGE, "type": ODATA_EXCEPTION,
                                         "internalException": {"message": self.message, "type": self.exception_type}}}}

    def __repr__(self):
        return "ExchangeError(%r, %r, %r)" % (self.status, self.code, self.message)


def _error_id(exception_type):
    """Exchange's error ids look like Ex6F9304; the not-found one is the real one, the others are derived (UNCONFIRMED)."""
    if exception_type == NOT_FOUND_TYPE:
        return "Ex6F9304"
    return "Ex" + hashlib.sha1(exception_type.encode()).hexdigest()[:6].upper()  # nosec - an id, not security


def cmdlet_error(status, exception_type, message, code=None):
    return ExchangeError(status, code or ("NotFound" if status == 404 else "BadRequest"), message, _error_id(exception_type), exception_type)


def not_found(identity):
    # UNCONFIRMED: the HTTP status (404) of a ManagementObjectNotFoundException.
    return cmdlet_error(404, NOT_FOUND_TYPE, NOT_FOUND.format(identity=identity, server=SERVER))


def invalid(message, exception_type=VALIDATION_TYPE):
    return cmdlet_error(400, exception_type, message)


def parameter_error(message):
    return cmdlet_error(400, PARAMETER_TYPE, message)


# --------------------------------------------------------------------------------------------------------------
# Addresses


ADDRESS_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                        r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# Address types Exchange keeps on recipients besides SMTP; kept verbatim and not validated.
OTHER_TYPES = ("X500", "X400", "SIP", "SPO", "EUM")


def split_proxy(entry):
    """(prefix as written, address) of a proxy address; a bare address is SMTP. ExchangeError for unknown prefixes."""
    if not isinstance(entry, str) or not entry.strip():
        raise invalid(BAD_ADDRESS.format(address=entry))
    entry = entry.strip()
    if ":" not in entry:
        return "smtp", entry
    prefix, address = entry.split(":", 1)
    if prefix.lower() == "smtp":
        return ("SMTP" if prefix == "SMTP" else "smtp"), address.strip()
    if prefix.upper() in OTHER_TYPES:
        return prefix, address
    raise invalid(BAD_PROXY_PREFIX.format(proxy=entry))


def is_smtp(entry):
    return entry.split(":", 1)[0].lower() == "smtp" if ":" in entry else True


def address_part(entry):
    return entry.split(":", 1)[1] if ":" in entry else entry


def domain_of(address):
    return address.rsplit("@", 1)[-1].lower()


def check_syntax(address):
    if not ADDRESS_RE.match(address or "") or len(address) > 320:
        raise invalid(BAD_ADDRESS.format(address=address))


# --------------------------------------------------------------------------------------------------------------
# The model, mixed into state.Tenant


class MailboxMixin:
    """Mailboxes of the tenant, by user id. Methods raise ExchangeError; the Exchange app turns it into a body.

    A mailbox is a dict: state ("provisioning" | "active"), licensed_at (clock), guid, exchange_guid, alias, name,
    addresses (Exchange's EmailAddresses, "SMTP:" first), type ("UserMailbox" | "SharedMailbox"), pending_type and
    pending_since (clock), forwarding (``smtp:...`` or None), deliver_and_forward, hidden, permissions ({trustee user id:
    {"auto_mapping"}}), created, changed, provisioning_errors.

    The delays are measured from the licence (or the conversion request) with the knob's value at the time of each
    check, so a test can hold a mailbox back with a long delay and release it by setting the knob to 0.
    """

    # -- interface with the other services ------------------------------------------------------------------------

    def reset_mailboxes(self):
        self.mailboxes = {}
        self.staged_addresses = {}
        self._mailbox_work = set()  # user ids with provisioning or a conversion under way

    def provision_mailbox(self, user):
        """A user data dict whose licences now include an Exchange plan. Seeded users get their mailbox at once;
        users licensed through the API after ``mailbox_provisioning_delay_s``. ``user`` is changed in place when the
        mailbox is ready now (the caller writes it), else when it becomes ready (``settle_mailboxes``)."""
        user_id = user["id"]
        if user_id in self.mailboxes:
            return
        record = self.records.get(user_id)
        seeding = record is not None and record.data is user  # seed_user works on the stored dict, the API on a copy
        delay = 0.0 if seeding else float(self.config.get("mailbox_provisioning_delay_s") or 0)
        mailbox = self._new_mailbox(user)
        self.mailboxes[user_id] = mailbox
        if delay <= 0:
            self._activate(user_id, mailbox, user)
        else:
            self._mailbox_work.add(user_id)

    def seed_mailbox(self, user_id, mailbox_type):
        """Seed data: the user gets a mailbox of ``mailbox_type`` now, licence or not (room, equipment and shared mailboxes
        need none). A mailbox the user's licence already provisioned just takes the type."""
        record = self.records[user_id]
        if user_id not in self.mailboxes:
            self.mailboxes[user_id] = self._new_mailbox(record.data)
            self._activate(user_id, self.mailboxes[user_id], record.data)
        self.mailboxes[user_id]["type"] = mailbox_type

    def _new_mailbox(self, user):
        return {
            "state": "provisioning", "licensed_at": self.clock(), "guid": str(uuid.uuid4()), "exchange_guid": str(uuid.uuid4()),
            "alias": user.get("mailNickname") or user["userPrincipalName"].split("@")[0], "name": user.get("displayName") or user["id"],
            "addresses": [], "type": "UserMailbox", "pending_type": None, "pending_since": None, "forwarding": None,
            "deliver_and_forward": False, "hidden": False, "permissions": {}, "created": None, "changed": None,
            "provisioning_errors": [],
        }

    def stage_email_addresses(self, user_id, addresses):
        """Addresses in the ``SMTP:primary`` / ``smtp:alias`` form for a user's mailbox: applied now when the mailbox
        exists, else when it is provisioned. Raises ExchangeError for an address Exchange would refuse now."""
        entries = [entry for entry in addresses if isinstance(entry, str) and entry.strip()]
        mailbox = self.mailboxes.get(user_id)
        if mailbox is not None and mailbox["state"] == "active":
            routing = self._routing_address(mailbox)
            if routing and not any(address_part(entry).lower() == routing.lower() for entry in entries):
                entries.append("smtp:" + routing)
            self.set_email_addresses(user_id, self._full_list(mailbox, entries))
            return
        self.staged_addresses[user_id] = list(entries)

    def mailbox_of(self, user_id):
        """Get-Mailbox's view of a user's mailbox, or None while it does not exist (or is not provisioned yet)."""
        mailbox = self.mailboxes.get(user_id)
        if mailbox is None or mailbox["state"] != "active" or not self._user_active(user_id):
            return None
        return self.mailbox_view(user_id)

    def dump_mailboxes(self):
        out = []
        for user_id, mailbox in self.mailboxes.items():
            item = {"user_id": user_id, "state": mailbox["state"], "pending_type": mailbox["pending_type"],
                    "staged": self.staged_addresses.get(user_id), "provisioning_errors": list(mailbox["provisioning_errors"])}
            if mailbox["state"] == "active" and user_id in self.records and self.records[user_id].data is not None:
                item.update(self.mailbox_view(user_id))
                item["FullAccess"] = sorted(self._upn(trustee) for trustee in mailbox["permissions"] if self._upn(trustee))
            out.append(item)
        return out

    def settle_mailboxes(self):
        """Finish what is due: provisioning after its delay, conversions after theirs. Called before every request."""
        if not self._mailbox_work:
            return
        now = self.clock()
        provisioning = float(self.config.get("mailbox_provisioning_delay_s") or 0)
        conversion = float(self.config.get("shared_conversion_delay_s") or 0)
        for user_id in list(self._mailbox_work):
            mailbox = self.mailboxes.get(user_id)
            record = self.records.get(user_id)
            if mailbox is None or record is None or record.data is None:
                self.mailboxes.pop(user_id, None)  # the user was purged
                self._mailbox_work.discard(user_id)
                continue
            if mailbox["state"] == "provisioning":
                if now < mailbox["licensed_at"] + provisioning:
                    continue
                if not _has_exchange_plan(record.data):
                    del self.mailboxes[user_id]  # the licence went before the mailbox came
                    self._mailbox_work.discard(user_id)
                    continue
                data = copy.deepcopy(record.data)
                self._activate(user_id, mailbox, data)
                self._write(record, record.state, data)
            if mailbox["pending_type"] is not None:
                if now < mailbox["pending_since"] + conversion:
                    continue
                mailbox["type"], mailbox["pending_type"], mailbox["pending_since"] = mailbox["pending_type"], None, None
                mailbox["changed"] = _now_iso()
            self._mailbox_work.discard(user_id)

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _initial_domain(self):
        return next((name for name, domain in self.domains.items() if domain["isInitial"]), None)

    def accepted_domains(self):
        """Exchange's accepted domains: the tenant's verified domains."""
        return [domain for domain in self.domains.values() if domain["isVerified"]]

    def _accepted(self, domain):
        return any(name.lower() == domain.lower() for name, data in self.domains.items() if data["isVerified"])

    def _routing_address(self, mailbox):
        initial = self._initial_domain()
        return "%s@%s" % (mailbox["alias"], initial) if initial else None

    def _user_active(self, user_id):
        record = self.records.get(user_id)
        return record is not None and record.state == "user"

    def _upn(self, user_id):
        record = self.records.get(user_id)
        if record is None or record.state != "user":
            return None
        return record.data.get("userPrincipalName")

    def _activate(self, user_id, mailbox, user):
        """The mailbox exists from now: its addresses, and Graph's mail and proxyAddresses (``user`` changed in place)."""
        routing = self._routing_address(mailbox)
        staged = self.staged_addresses.pop(user_id, None)
        entries = []
        if staged:
            for entry in staged:
                try:
                    prefix, address = split_proxy(entry)
                    if prefix.lower() == "smtp":
                        check_syntax(address)
                        if not self._accepted(domain_of(address)):
                            raise invalid(NOT_ACCEPTED.format(domain=domain_of(address)))
                        owner = self._address_owner(address, user_id)
                        if owner:
                            raise cmdlet_error(400, PROXY_EXISTS_TYPE, PROXY_EXISTS.format(proxy=entry, owner=owner))
                except ExchangeError as exc:
                    mailbox["provisioning_errors"].append(exc.message)
                    continue
                entries.append("%s:%s" % (prefix, address))
        if not any(entry.startswith("SMTP:") for entry in entries):
            primary = user.get("mail") or user["userPrincipalName"]
            entries = ["SMTP:" + primary] + ["smtp:" + address_part(entry) if entry.startswith("SMTP:") else entry for entry in entries]
        seen = {address_part(entry).lower() for entry in entries}
        if routing and routing.lower() not in seen:
            entries.append("smtp:" + routing)
            seen.add(routing.lower())
        if not staged:
            for proxy in user.get("proxyAddresses") or []:
                if address_part(proxy).lower() not in seen:
                    entries.append("smtp:" + address_part(proxy) if proxy.startswith("SMTP:") else proxy)
                    seen.add(address_part(proxy).lower())
        primaries = [entry for entry in entries if entry.startswith("SMTP:")]
        entries = primaries[:1] + [entry for entry in entries if not entry.startswith("SMTP:")]
        mailbox["addresses"] = entries
        mailbox["state"] = "active"
        mailbox["created"] = mailbox["changed"] = _now_iso()
        _mirror(user, entries)

    def _sync_user(self, user_id):
        """Graph follows the mailbox: mail is the primary SMTP address, proxyAddresses every address."""
        record = self.records.get(user_id)
        if record is None or record.data is None:
            return
        data = copy.deepcopy(record.data)
        _mirror(data, self.mailboxes[user_id]["addresses"])
        self._write(record, record.state, data)

    def _address_owner(self, address, except_user=None):
        """The name of another recipient that holds ``address`` (UPN, mail or proxy address), or None."""
        lowered = address.lower()
        for record in self.records.values():
            if record.entity != "user" or record.state != "user" or record.id == except_user:
                continue
            data = record.data
            held = [data.get("userPrincipalName") or "", data.get("mail") or ""] + [address_part(p) for p in data.get("proxyAddresses") or []]
            mailbox = self.mailboxes.get(record.id)
            if mailbox is not None:
                held += [address_part(entry) for entry in mailbox["addresses"]]
            if any(item.lower() == lowered for item in held):
                return data.get("displayName") or data.get("userPrincipalName")
        return None

    def find_mailbox(self, identity):
        """The user id of the active mailbox an Identity names: object id, mailbox guid, UPN, any e-mail address,
        alias or name. ExchangeError 404 when none does."""
        if not isinstance(identity, str) or not identity.strip():
            raise not_found(identity)
        key = identity.strip().lower()
        if key.startswith("smtp:"):
            key = key[5:]
        matches = []
        for user_id, mailbox in self.mailboxes.items():
            if mailbox["state"] != "active" or not self._user_active(user_id):
                continue
            data = self.records[user_id].data
            names = [user_id, mailbox["guid"], mailbox["exchange_guid"], data.get("userPrincipalName") or "", mailbox["alias"],
                     data.get("displayName") or ""] + [address_part(entry) for entry in mailbox["addresses"]]
            if any(name.lower() == key for name in names):
                matches.append(user_id)
        if len(matches) != 1:
            # UNCONFIRMED: an ambiguous identity; Exchange says it matches multiple entries.
            if matches:
                raise invalid("The operation couldn't be performed because '%s' matches multiple entries." % identity,
                              INVALID_OPERATION_TYPE)
            raise not_found(identity)
        return matches[0]

    def find_trustee(self, identity):
        """The user id of an active user named by object id, UPN, e-mail address or alias (mailbox or not)."""
        key = (identity or "").strip().lower()
        for record in self.records.values():
            if record.entity != "user" or record.state != "user":
                continue
            data = record.data
            names = [record.id, data.get("userPrincipalName") or "", data.get("mail") or "", data.get("mailNickname") or ""]
            names += [address_part(p) for p in data.get("proxyAddresses") or []]
            if key and any(name.lower() == key for name in names):
                return record.id
        raise not_found(identity)

    def mailbox_view(self, user_id):
        mailbox = self.mailboxes[user_id]
        data = self.records[user_id].data
        primary = address_part(mailbox["addresses"][0]) if mailbox["addresses"] else None
        initial = self._initial_domain() or ""
        return {
            "Identity": mailbox["name"],
            "Id": mailbox["name"],
            "Name": mailbox["name"],
            "Alias": mailbox["alias"],
            "DisplayName": data.get("displayName"),
            "DistinguishedName": "CN=%s,OU=%s,OU=Microsoft Exchange Hosted Organizations,DC=AUSPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
                                 % (mailbox["name"], initial),
            "Guid": mailbox["guid"],
            "ExchangeGuid": mailbox["exchange_guid"],
            "ExternalDirectoryObjectId": user_id,
            "UserPrincipalName": data.get("userPrincipalName"),
            "PrimarySmtpAddress": primary,
            "WindowsEmailAddress": primary,
            "EmailAddresses@odata.type": "#Collection(String)",
            "EmailAddresses": list(mailbox["addresses"]),
            "RecipientType": "UserMailbox",
            "RecipientTypeDetails": mailbox["type"],
            "IsMailboxEnabled": True,
            "IsShared": mailbox["type"] == "SharedMailbox",
            "IsResource": mailbox["type"] in RESOURCE_TYPES,
            "ResourceType": RESOURCE_TYPES.get(mailbox["type"]),
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": mailbox["forwarding"],
            "DeliverToMailboxAndForward": mailbox["deliver_and_forward"],
            "HiddenFromAddressListsEnabled": mailbox["hidden"],
            "WhenMailboxCreated": mailbox["created"],
            "WhenChanged": mailbox["changed"],
        }

    # -- writes ----------------------------------------------------------------------------------------------------

    def _full_list(self, mailbox, entries):
        """A full EmailAddresses list, checked: prefixes, one primary (else the first SMTP address), no duplicates."""
        parsed = []
        seen = set()
        for entry in entries:
            prefix, address = split_proxy(entry)
            if address.lower() in seen:
                raise invalid(DUPLICATE_PROXY.format(proxy=entry))
            seen.add(address.lower())
            parsed.append((prefix, address))
        primaries = [address for prefix, address in parsed if prefix == "SMTP"]
        if len(primaries) > 1:
            raise invalid(TWO_PRIMARIES.format(count=len(primaries)))
        out = ["%s:%s" % (prefix, address) for prefix, address in parsed]
        if not primaries:
            first = next((index for index, (prefix, _) in enumerate(parsed) if prefix == "smtp"), None)
            if first is None:
                raise invalid(TWO_PRIMARIES.format(count=0))
            out[first] = "SMTP:" + parsed[first][1]
        return out

    def _apply_hashtable(self, mailbox, table):
        """EmailAddresses @{Add=...; Remove=...} against the current list (keys case-insensitive)."""
        current = list(mailbox["addresses"])
        adds, removes = [], []
        for key, value in table.items():
            if key.startswith("@odata."):
                continue
            values = value if isinstance(value, list) else [value]
            if key.lower() == "add":
                adds.extend(values)
            elif key.lower() == "remove":
                removes.extend(values)
            else:
                # UNCONFIRMED wording: a hashtable key other than Add and Remove.
                raise parameter_error("Cannot process argument transformation on parameter 'EmailAddresses'. The key '%s' isn't valid; "
                                      "use Add or Remove." % key)
        for entry in removes:
            _, address = split_proxy(entry)
            if any(item.startswith("SMTP:") and address_part(item).lower() == address.lower() for item in current):
                raise invalid(PRIMARY_REMOVAL.format(address=address), INVALID_OPERATION_TYPE)
            # Removing an address the mailbox does not have changes nothing (no error).
            current = [item for item in current if address_part(item).lower() != address.lower()]
        for entry in adds:
            prefix, address = split_proxy(entry)
            existing = [item for item in current if address_part(item).lower() == address.lower()]
            if prefix == "SMTP":
                current = ["smtp:" + address_part(item) if item.startswith("SMTP:") else item for item in current
                           if address_part(item).lower() != address.lower()]
                current.insert(0, "SMTP:" + address)
            elif not existing:
                current.append("%s:%s" % (prefix, address))
        return current

    def set_email_addresses(self, user_id, new):
        """Replace a mailbox's EmailAddresses with a full, checked list (ExchangeError before any change). A full list may drop the
        old primary (it names a new one); only the routing address must stay."""
        mailbox = self.mailboxes[user_id]
        routing = self._routing_address(mailbox)
        held = {address_part(entry).lower() for entry in mailbox["addresses"]}
        wanted = {address_part(entry).lower() for entry in new}
        if routing and routing.lower() in held and routing.lower() not in wanted:
            raise invalid(ROUTING_REMOVAL.format(address="smtp:" + routing), INVALID_OPERATION_TYPE)
        for entry in new:
            prefix, address = split_proxy(entry)
            if prefix.lower() != "smtp":
                continue
            check_syntax(address)
            if address.lower() in held:
                continue
            if not self._accepted(domain_of(address)):
                raise invalid(NOT_ACCEPTED.format(domain=domain_of(address)))
            owner = self._address_owner(address, user_id)
            if owner:
                raise cmdlet_error(400, PROXY_EXISTS_TYPE, PROXY_EXISTS.format(proxy=entry, owner=owner))
        ordered = [entry for entry in new if entry.startswith("SMTP:")] + [entry for entry in new if not entry.startswith("SMTP:")]
        if ordered == mailbox["addresses"]:
            return False
        mailbox["addresses"] = ordered
        mailbox["changed"] = _now_iso()
        self._sync_user(user_id)
        return True

    def set_mailbox_type(self, user_id, target):
        """Start a conversion; Exchange shows it after shared_conversion_delay_s. True when something changes."""
        mailbox = self.mailboxes[user_id]
        shown = mailbox["pending_type"] or mailbox["type"]
        if shown == target:
            return False
        if target == mailbox["type"]:
            mailbox["pending_type"], mailbox["pending_since"] = None, None
            return True
        if float(self.config.get("shared_conversion_delay_s") or 0) <= 0:
            mailbox["type"], mailbox["pending_type"], mailbox["pending_since"] = target, None, None
            mailbox["changed"] = _now_iso()
        else:
            mailbox["pending_type"], mailbox["pending_since"] = target, self.clock()
            self._mailbox_work.add(user_id)
        return True


def _has_exchange_plan(data):
    return any(plan.get("service") == "exchange" and plan.get("capabilityStatus") == "Enabled" for plan in data.get("assignedPlans") or [])


def _mirror(user, addresses):
    primary = next((address_part(entry) for entry in addresses if entry.startswith("SMTP:")), None)
    user["mail"] = primary
    user["proxyAddresses"] = list(addresses)
    user["_mailbox"] = True


def _now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
}


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
        self.app = Starlette(routes=[
            Route("/adminapi/beta/{tenant}/InvokeCommand", self.invoke, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    @property
    def tenant(self):
        return self.rt.tenant

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    # -- HTTP ------------------------------------------------------------------------------------------------------

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
        self.tenant.settle_mailboxes()
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = None
        cmdlet_input = body.get("CmdletInput") if isinstance(body, dict) else None
        name = cmdlet_input.get("CmdletName") if isinstance(cmdlet_input, dict) else None
        params = cmdlet_input.get("Parameters") if isinstance(cmdlet_input, dict) else None
        name_text = name if isinstance(name, str) else ""
        entry = self.tenant.log_request("exchange", request.method, request.url.path, request.url.query, None,
                                        app_id=auth.peek_app_id(request.headers.get("authorization")),
                                        write=not name_text.lower().startswith("get-"),
                                        body_keys=sorted(params) if isinstance(params, dict) else [])
        entry["cmdlet"] = name_text or None
        identity = params.get("Identity") if isinstance(params, dict) else None
        entry["identity"] = identity if isinstance(identity, str) else None  # the target, as the caller named it
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
        tenant = self.tenant
        if params.get("Identity") not in (None, ""):
            return [tenant.mailbox_view(tenant.find_mailbox(params["Identity"]))]
        wanted = params.get("RecipientTypeDetails")
        if wanted is not None:
            wanted = {str(item).lower() for item in (wanted if isinstance(wanted, list) else str(wanted).split(","))}
        items = [tenant.mailbox_view(user_id) for user_id, mailbox in tenant.mailboxes.items()
                 if mailbox["state"] == "active" and tenant._user_active(user_id)
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
        for domain in self.tenant.accepted_domains():
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
        tenant = self.tenant
        user_id = tenant.find_mailbox(params["Identity"])
        mailbox = tenant.mailboxes[user_id]
        # Check everything first, then change: a refused call changes nothing.
        new_addresses = None
        if "EmailAddresses" in params:
            value = params["EmailAddresses"]
            if isinstance(value, dict):
                new_addresses = tenant._apply_hashtable(mailbox, value)
            elif isinstance(value, list) or isinstance(value, str):
                new_addresses = tenant._full_list(mailbox, value if isinstance(value, list) else [value])
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
            changed = tenant.set_email_addresses(user_id, new_addresses) or changed
        if target is not None:
            changed = tenant.set_mailbox_type(user_id, target) or changed
        for key, param in (("forwarding", None), ("deliver_and_forward", "DeliverToMailboxAndForward"),
                           ("hidden", "HiddenFromAddressListsEnabled")):
            value = forwarding if param is None else params.get(param, mailbox[key])
            if mailbox[key] != value:
                mailbox[key] = value
                changed = True
        if changed:
            mailbox["changed"] = _now_iso()
        else:
            warnings.append(NOT_MODIFIED.format(name=mailbox["name"]))
        return []

    def _permission_view(self, mailbox, user, rights, inherited=False):
        return {"Identity": mailbox["name"], "User": user, "AccessRights@odata.type": "#Collection(String)", "AccessRights": rights,
                "IsInherited": inherited, "Deny": False, "InheritanceType": "All"}

    def _get_mailboxpermission(self, params, warnings):
        tenant = self.tenant
        user_id = tenant.find_mailbox(params["Identity"])
        mailbox = tenant.mailboxes[user_id]
        out = [self._permission_view(mailbox, SELF, ["FullAccess", "ReadPermission"])]
        for trustee in mailbox["permissions"]:
            upn = tenant._upn(trustee)
            if upn:
                out.append(self._permission_view(mailbox, upn, ["FullAccess"]))
        if params.get("User"):
            trustee = tenant.find_trustee(params["User"])
            out = [item for item in out if item["User"] == tenant._upn(trustee)]
        return out

    def _add_mailboxpermission(self, params, warnings):
        tenant = self.tenant
        user_id = tenant.find_mailbox(params["Identity"])
        mailbox = tenant.mailboxes[user_id]
        _access_rights(params["AccessRights"])
        trustee = tenant.find_trustee(params["User"])
        mailbox["permissions"][trustee] = {"auto_mapping": params.get("AutoMapping", True)}
        return [self._permission_view(mailbox, tenant._upn(trustee), ["FullAccess"])]

    def _remove_mailboxpermission(self, params, warnings):
        tenant = self.tenant
        user_id = tenant.find_mailbox(params["Identity"])
        mailbox = tenant.mailboxes[user_id]
        _access_rights(params["AccessRights"])
        trustee = tenant.find_trustee(params["User"])
        if trustee in mailbox["permissions"]:
            del mailbox["permissions"][trustee]
        else:
            warnings.append(ACE_MISSING.format(name=mailbox["name"], user=params["User"]))
        return []
