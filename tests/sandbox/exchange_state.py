"""Exchange Online's model: the tenant's mailboxes (``Mailboxes``), addresses and Exchange's errors.

The Graph tenant (state.Tenant) holds one ``Mailboxes`` (composition: ``Tenant.exchange``) so every service works on the
same tenant. A mailbox appears when an Exchange-bearing licence is assigned (after ``mailbox_provisioning_delay_s``), its
addresses are unique across the tenant and limited to accepted domains (the tenant's verified domains), its
``*.onmicrosoft.com`` routing address stays, and the user's Graph ``mail`` and ``proxyAddresses`` follow it. A conversion to
or from a shared mailbox shows only after ``shared_conversion_delay_s``. The admin API that serves it is exchange.py.

Error bodies follow the shape clients parse (reference graph.md 8.2; CIPP's New-ExoRequest, GreyCorbel's ExoHelper):
``error.details[].message`` is ``"<ErrorId>|<exception type>|<text>"``, ``error.innererror.internalException`` holds the text
and the type, ``error.message`` is generic. Wordings and statuses not seen in a public source are marked UNCONFIRMED where
they are defined.

This module must not import ``state`` at load time: ``state`` imports it.
"""

import copy
import datetime
import hashlib
import re
import uuid

SERVER = "SY4PR01MB6158.AUSPRD01.PROD.OUTLOOK.COM"  # the mailbox server named in not-found messages (made up)
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

# Messages. The not-found one (with error id Ex6F9304), the address syntax one and the proxy-address conflict one are
# Exchange's own wording; the others are UNCONFIRMED.
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

# Distribution lists and mail-enabled security groups (Add-/Remove-/Get-DistributionGroupMember, Get-DistributionGroup). The
# exception types and wordings of a member added twice, removed while absent, and a call without BypassSecurityGroupManagerCheck
# are UNCONFIRMED (remembered from the PowerShell module, not seen in a public source); the on-premises one is Exchange's own.
MEMBER_EXISTS_TYPE = "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException"
MEMBER_EXISTS = "The recipient \"{member}\" is already a member of the group \"{group}\"."
MEMBER_MISSING_TYPE = "Microsoft.Exchange.Management.Tasks.MemberNotFoundException"
MEMBER_MISSING = "The recipient \"{member}\" isn't a member of the group \"{group}\"."
MANAGER_ONLY_TYPE = "Microsoft.Exchange.Management.Tasks.OperationRequiresGroupManagerException"
MANAGER_ONLY = ("You don't have sufficient permissions. This operation can only be performed by a manager of the group.")
SYNCED_GROUP = ("The action '{cmdlet}', 'Members', can't be performed on the object '{group}' because the object is being synchronized "
                "from your on-premises organization. This action should be performed on the object in your on-premises organization.")
GROUP_RECIPIENT_TYPES = {"distribution": "MailUniversalDistributionGroup", "mail_security": "MailUniversalSecurityGroup"}


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
# The model, held by state.Tenant


class Mailboxes:
    """Exchange's model of a tenant: its mailboxes, by user id. The tenant holds one (``Tenant.exchange``) and hands it its
    directory (records, domains, config, clock, writes). Methods raise ExchangeError; the Exchange app turns it into a body.

    A mailbox is a dict: state ("provisioning" | "active"), licensed_at (clock), guid, exchange_guid, alias, name,
    addresses (Exchange's EmailAddresses, "SMTP:" first), type ("UserMailbox" | "SharedMailbox"), pending_type and
    pending_since (clock), forwarding (``smtp:...`` or None), deliver_and_forward, hidden, permissions ({trustee user id:
    {"auto_mapping"}}), created, changed, provisioning_errors.

    The delays are measured from the licence (or the conversion request) with the knob's value at the time of each
    check, so a test can hold a mailbox back with a long delay and release it by setting the knob to 0.
    """

    def __init__(self, tenant):
        self.tenant = tenant
        self.reset()

    # -- interface with the other services ------------------------------------------------------------------------

    def reset(self):
        self.mailboxes = {}
        self.staged_addresses = {}
        self._mailbox_work = set()  # user ids with provisioning or a conversion under way

    def provision_mailbox(self, user):
        """A user data dict whose licences now include an Exchange plan. Seeded users get their mailbox at once;
        users licensed through the API after ``mailbox_provisioning_delay_s``. ``user`` is changed in place when the
        mailbox is ready now (the caller writes it), else when it becomes ready (``settle``)."""
        user_id = user["id"]
        if user_id in self.mailboxes:
            return
        record = self.tenant.records.get(user_id)
        seeding = record is not None and record.data is user  # seed_user works on the stored dict, the API on a copy
        delay = 0.0 if seeding else float(self.tenant.config.get("mailbox_provisioning_delay_s") or 0)
        mailbox = self._new_mailbox(user)
        self.mailboxes[user_id] = mailbox
        if delay <= 0:
            self._activate(user_id, mailbox, user)
        else:
            self._mailbox_work.add(user_id)

    def seed_mailbox(self, user_id, mailbox_type):
        """Seed data: the user gets a mailbox of ``mailbox_type`` now, licence or not (room, equipment and shared mailboxes
        need none). A mailbox the user's licence already provisioned just takes the type."""
        record = self.tenant.records[user_id]
        if user_id not in self.mailboxes:
            self.mailboxes[user_id] = self._new_mailbox(record.data)
            self._activate(user_id, self.mailboxes[user_id], record.data)
        self.mailboxes[user_id]["type"] = mailbox_type

    def _new_mailbox(self, user):
        return {
            "state": "provisioning", "licensed_at": self.tenant.clock(), "guid": str(uuid.uuid4()), "exchange_guid": str(uuid.uuid4()),
            "alias": user.get("mailNickname") or user["userPrincipalName"].split("@")[0], "name": user.get("displayName") or user["id"],
            "addresses": [], "type": "UserMailbox", "pending_type": None, "pending_since": None, "forwarding": None,
            "deliver_and_forward": False, "hidden": False, "permissions": {}, "created": None, "changed": None,
            "provisioning_errors": [],
            # Automatic replies as Get-MailboxAutoReplyConfiguration shows them; mobile devices (Get-MobileDevice); inbox rules
            # as Graph's messageRules shows them (access.py serves them).
            "auto_reply": {"AutoReplyState": "Disabled", "InternalMessage": "", "ExternalMessage": "", "ExternalAudience": "All",
                           "StartTime": None, "EndTime": None},
            "devices": [], "rules": [],
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
            self.set_email_addresses(user_id, self.full_list(mailbox, entries))
            return
        self.staged_addresses[user_id] = list(entries)

    def mailbox_of(self, user_id):
        """Get-Mailbox's view of a user's mailbox, or None while it does not exist (or is not provisioned yet)."""
        mailbox = self.mailboxes.get(user_id)
        if mailbox is None or mailbox["state"] != "active" or not self.user_active(user_id):
            return None
        return self.mailbox_view(user_id)

    def dump(self):
        out = []
        for user_id, mailbox in self.mailboxes.items():
            item = {"user_id": user_id, "state": mailbox["state"], "pending_type": mailbox["pending_type"],
                    "staged": self.staged_addresses.get(user_id), "provisioning_errors": list(mailbox["provisioning_errors"])}
            if mailbox["state"] == "active" and user_id in self.tenant.records and self.tenant.records[user_id].data is not None:
                item.update(self.mailbox_view(user_id))
                item["FullAccess"] = sorted(self.upn_of(trustee) for trustee in mailbox["permissions"] if self.upn_of(trustee))
                item["AutoReply"] = copy.deepcopy(mailbox["auto_reply"])
                item["MobileDevices"] = [device["DeviceId"] for device in mailbox["devices"]]
                item["InboxRules"] = [{"id": rule["id"], "displayName": rule.get("displayName"), "isEnabled": rule.get("isEnabled"),
                                       "forwardsOutside": self._forwards_outside(rule)} for rule in mailbox["rules"]]
            out.append(item)
        return out

    def settle(self):
        """Finish what is due: provisioning after its delay, conversions after theirs. Called before every request."""
        if not self._mailbox_work:
            return
        now = self.tenant.clock()
        provisioning = float(self.tenant.config.get("mailbox_provisioning_delay_s") or 0)
        conversion = float(self.tenant.config.get("shared_conversion_delay_s") or 0)
        for user_id in list(self._mailbox_work):
            mailbox = self.mailboxes.get(user_id)
            record = self.tenant.records.get(user_id)
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
                self.tenant._write(record, record.state, data)
            if mailbox["pending_type"] is not None:
                if now < mailbox["pending_since"] + conversion:
                    continue
                mailbox["type"], mailbox["pending_type"], mailbox["pending_since"] = mailbox["pending_type"], None, None
                mailbox["changed"] = now_iso()
            self._mailbox_work.discard(user_id)

    def _forwards_outside(self, rule):
        """Whether an inbox rule forwards or redirects to an address outside the accepted domains (for the state dump)."""
        actions = rule.get("actions") or {}
        for name in ("forwardTo", "redirectTo", "forwardAsAttachmentTo"):
            for recipient in actions.get(name) or []:
                address = ((recipient or {}).get("emailAddress") or {}).get("address") or ""
                if "@" in address and not self._accepted(domain_of(address)):
                    return True
        return False

    def add_mobile_device(self, user_id, device):
        """Seed a mobile device partnership on the user's mailbox (Get-MobileDevice's shape; Identity and Guid made up here)."""
        mailbox = self.mailboxes[user_id]
        device.setdefault("DeviceType", "EASDevice")
        device.setdefault("Guid", str(uuid.uuid5(uuid.NAMESPACE_URL, "mobile-device:%s:%s" % (user_id, device["DeviceId"]))))
        device.setdefault("Identity", "%s\\ExchangeActiveSyncDevices\\%s\u00a7%s" % (mailbox["name"], device["DeviceType"], device["DeviceId"]))
        device.setdefault("FirstSyncTime", "2024-07-01T09:00:00Z")
        mailbox["devices"].append(device)
        return device

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _initial_domain(self):
        return next((name for name, domain in self.tenant.domains.items() if domain["isInitial"]), None)

    def accepted_domains(self):
        """Exchange's accepted domains: the tenant's verified domains."""
        return [domain for domain in self.tenant.domains.values() if domain["isVerified"]]

    def _accepted(self, domain):
        return any(name.lower() == domain.lower() for name, data in self.tenant.domains.items() if data["isVerified"])

    def _routing_address(self, mailbox):
        initial = self._initial_domain()
        return "%s@%s" % (mailbox["alias"], initial) if initial else None

    def user_active(self, user_id):
        record = self.tenant.records.get(user_id)
        return record is not None and record.state == "user"

    def upn_of(self, user_id):
        record = self.tenant.records.get(user_id)
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
        mailbox["created"] = mailbox["changed"] = now_iso()
        _mirror(user, entries)

    def _sync_user(self, user_id):
        """Graph follows the mailbox: mail is the primary SMTP address, proxyAddresses every address."""
        record = self.tenant.records.get(user_id)
        if record is None or record.data is None:
            return
        data = copy.deepcopy(record.data)
        _mirror(data, self.mailboxes[user_id]["addresses"])
        self.tenant._write(record, record.state, data)

    def _address_owner(self, address, except_user=None):
        """The name of another recipient that holds ``address`` (UPN, mail or proxy address), or None."""
        lowered = address.lower()
        for record in self.tenant.records.values():
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
            if mailbox["state"] != "active" or not self.user_active(user_id):
                continue
            data = self.tenant.records[user_id].data
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

    # -- distribution lists and mail-enabled security groups ----------------------------------------------------------

    @staticmethod
    def is_distribution_group(data):
        """A distribution list or a mail-enabled security group (synced from on-premises or not): mail-enabled, not a Microsoft
        365 group, not dynamic."""
        types = [t.lower() for t in data.get("groupTypes") or []]
        return bool(data.get("mailEnabled")) and "unified" not in types and "dynamicmembership" not in types

    def find_distribution_group(self, identity):
        """The record of the distribution list or mail-enabled security group an Identity names: object id, name, alias or
        any of its addresses. Microsoft 365 groups, security groups without mail and dynamic groups are not distribution
        groups: ExchangeError 404, as for an unknown name."""
        key = (identity or "").strip().lower() if isinstance(identity, str) else ""
        if key.startswith("smtp:"):
            key = key[5:]
        matches = []
        for record in self.tenant.records.values():
            if record.entity != "group":
                continue
            state, data = self.tenant._view(record)
            if state != "group" or not self.is_distribution_group(data):
                continue
            names = [record.id, data.get("displayName") or "", data.get("mailNickname") or "", data.get("mail") or ""]
            names += [address_part(p) for p in data.get("proxyAddresses") or []]
            if key and any(name.lower() == key for name in names):
                matches.append(record)
        if len(matches) != 1:
            if matches:  # UNCONFIRMED wording, as for mailboxes
                raise invalid("The operation couldn't be performed because '%s' matches multiple entries." % identity, INVALID_OPERATION_TYPE)
            raise not_found(identity)
        return matches[0]

    def distribution_group_view(self, record):
        data = self.tenant._view(record)[1]
        kind = "mail_security" if data.get("securityEnabled") else "distribution"
        return {
            "Identity": data.get("displayName"), "Id": data.get("displayName"), "Name": data.get("displayName"),
            "DisplayName": data.get("displayName"), "Alias": data.get("mailNickname"), "PrimarySmtpAddress": data.get("mail"),
            "EmailAddresses@odata.type": "#Collection(String)", "EmailAddresses": list(data.get("proxyAddresses") or []),
            "ExternalDirectoryObjectId": record.id, "Guid": str(uuid.uuid5(uuid.NAMESPACE_URL, "group:" + record.id)),
            "RecipientType": GROUP_RECIPIENT_TYPES[kind], "RecipientTypeDetails": GROUP_RECIPIENT_TYPES[kind],
            "GroupType": "Universal, SecurityEnabled" if kind == "mail_security" else "Universal",
            "IsDirSynced": bool(data.get("onPremisesSyncEnabled")), "ManagedBy@odata.type": "#Collection(String)", "ManagedBy": [],
        }

    def distribution_group_members(self, record):
        """Get-DistributionGroupMember: the members that are recipients (mailboxes) now, as recipients."""
        out = []
        for member_id in self.tenant._view(record)[1].get("_members") or []:
            if self.mailbox_of(member_id) is not None:
                view = self.mailbox_view(member_id)
                out.append(dict((key, view[key]) for key in ("Identity", "Name", "DisplayName", "Alias", "PrimarySmtpAddress",
                                                             "ExternalDirectoryObjectId", "RecipientType", "RecipientTypeDetails")))
        return out

    def change_distribution_group_member(self, cmdlet, identity, member, bypass, add):
        """Add-/Remove-DistributionGroupMember: the member must be a recipient (a mailbox); the app is no manager of any group,
        so BypassSecurityGroupManagerCheck is needed. Written against the stored state, and lags like any directory write."""
        record = self.find_distribution_group(identity)
        data = copy.deepcopy(record.data)
        if data.get("onPremisesSyncEnabled"):
            raise invalid(SYNCED_GROUP.format(cmdlet=cmdlet, group=data.get("displayName")), INVALID_OPERATION_TYPE)
        if not bypass:
            raise cmdlet_error(403, MANAGER_ONLY_TYPE, MANAGER_ONLY, code="Forbidden")  # UNCONFIRMED status
        user_id = self.find_mailbox(member)
        members = data.get("_members") or []
        if add and user_id in members:
            raise invalid(MEMBER_EXISTS.format(member=member, group=data.get("displayName")), MEMBER_EXISTS_TYPE)
        if not add and user_id not in members:
            raise invalid(MEMBER_MISSING.format(member=member, group=data.get("displayName")), MEMBER_MISSING_TYPE)
        data["_members"] = members + [user_id] if add else [m for m in members if m != user_id]
        self.tenant._write(record, "group", data)

    def find_trustee(self, identity):
        """The user id of an active user named by object id, UPN, e-mail address or alias (mailbox or not)."""
        key = (identity or "").strip().lower()
        for record in self.tenant.records.values():
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
        data = self.tenant.records[user_id].data
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

    def full_list(self, mailbox, entries):
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

    def apply_hashtable(self, mailbox, table):
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
        mailbox["changed"] = now_iso()
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
        if float(self.tenant.config.get("shared_conversion_delay_s") or 0) <= 0:
            mailbox["type"], mailbox["pending_type"], mailbox["pending_since"] = target, None, None
            mailbox["changed"] = now_iso()
        else:
            mailbox["pending_type"], mailbox["pending_since"] = target, self.tenant.clock()
            self._mailbox_work.add(user_id)
        return True


def _has_exchange_plan(data):
    return any(plan.get("service") == "exchange" and plan.get("capabilityStatus") == "Enabled" for plan in data.get("assignedPlans") or [])


def _mirror(user, addresses):
    primary = next((address_part(entry) for entry in addresses if entry.startswith("SMTP:")), None)
    user["mail"] = primary
    user["proxyAddresses"] = list(addresses)
    user["_mailbox"] = True


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
