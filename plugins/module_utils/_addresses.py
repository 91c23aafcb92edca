# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""E-mail addresses of a mailbox: parsing, checks and the plan of ``m365_alias``.

Exchange keeps a recipient's addresses as ``EmailAddresses``: ``SMTP:`` (upper case) marks the one primary address,
the reply address; ``smtp:`` (lower case) marks the aliases; other types (``X500:``, ``SIP:``, ``SPO:``) belong to
other systems and are left alone. Practice Protect stores the same information as one attribute,
``SMTP:primary@d;smtp:alias@d``, whose first entry is the primary. The filter plugins and the modules share the
functions here, so that both read and write the two forms the same way. Address syntax is checked with
``email-validator``. Every problem is a ``ValidationError`` with a sentence that says what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError, check_local_part

try:
    import email_validator
    HAS_EMAIL_VALIDATOR = True
    EMAIL_VALIDATOR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module or the filter
    HAS_EMAIL_VALIDATOR = False
    EMAIL_VALIDATOR_IMPORT_ERROR = exc

PRIMARY = "SMTP"
ALIAS = "smtp"
SEPARATOR = ";"
ROUTING_SUFFIX = ".onmicrosoft.com"
HASHTABLE = "#Exchange.GenericHashTable"


# --------------------------------------------------------------------------------------------------------------
# Single addresses


def validate_address(address, field="address"):
    """An SMTP address checked by email-validator (ASCII, as Exchange addresses are); the domain is lower-cased."""
    if not isinstance(address, str) or not address.strip():
        raise ValidationError("%s %r is not an e-mail address." % (field, address), field=field)
    if not HAS_EMAIL_VALIDATOR:
        raise ValidationError("Checking e-mail addresses needs the Python package email-validator; install it where Ansible runs.", field=field)
    try:
        result = email_validator.validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError("%s %r is not a valid e-mail address: %s" % (field, address, exc), field=field)
    return check_local_part(result.normalized, address, field)


def domain_of(address):
    return address.rsplit("@", 1)[-1].lower()


def is_routing(address):
    """The ``*.onmicrosoft.com`` routing address Microsoft 365 gives every mailbox; Exchange keeps it."""
    return domain_of(address).endswith(ROUTING_SUFFIX)


def split_entry(entry, field="address"):
    """``(prefix, address)`` of one ``SMTP:x`` or ``smtp:x`` entry. Raises ValidationError for anything else."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValidationError("%s: empty entry; give SMTP:primary@domain or smtp:alias@domain." % field, field=field)
    entry = entry.strip()
    if ":" not in entry:
        raise ValidationError("%s: entry %r has no prefix; write SMTP:%s for the primary address or smtp:%s for an alias."
                              % (field, entry, entry, entry), field=field)
    prefix, address = entry.split(":", 1)
    if prefix not in (PRIMARY, ALIAS):
        raise ValidationError("%s: entry %r has the unknown prefix %r; use SMTP: (upper case) for the primary address and smtp: "
                              "(lower case) for an alias." % (field, entry, prefix + ":"), field=field)
    return prefix, validate_address(address, field)


def bare(value, field, allow_primary_prefix=False):
    """An address given with or without an ``smtp:`` prefix (``SMTP:`` too when ``allow_primary_prefix``), checked."""
    if isinstance(value, str) and ":" in value:
        prefix, rest = value.split(":", 1)
        if prefix == ALIAS or (allow_primary_prefix and prefix == PRIMARY):
            return validate_address(rest, field)
        if prefix == PRIMARY:
            raise ValidationError("%s: %r is marked as the primary address (SMTP:); give the primary with the primary option, "
                                  "or write it smtp:%s." % (field, value, rest), field=field)
        raise ValidationError("%s: %r has the unknown prefix %r; give the bare address or smtp:address." % (field, value, prefix + ":"),
                              field=field)
    return validate_address(value, field)


# --------------------------------------------------------------------------------------------------------------
# The Practice Protect attribute form: SMTP:primary@d;smtp:alias@d


def parse_proxy_addresses(value, field="proxy_addresses"):
    """``{"primary": ..., "aliases": [...]}`` from ``SMTP:primary@d;smtp:alias@d``.

    The first entry is the primary and must be written ``SMTP:``; every other entry is an alias written ``smtp:``.
    Duplicates (compared without case) and unknown prefixes are refused. Empty segments (a trailing ``;``) are ignored.
    """
    if not isinstance(value, str):
        raise ValidationError("%s must be a string like 'SMTP:primary@domain;smtp:alias@domain', not %s." % (field, type(value).__name__),
                              field=field)
    entries = [part.strip() for part in value.split(SEPARATOR) if part.strip()]
    if not entries:
        raise ValidationError("%s is empty; it needs at least the primary address, SMTP:primary@domain." % field, field=field)
    primary = None
    aliases = []
    seen = set()
    for index, entry in enumerate(entries):
        prefix, address = split_entry(entry, field)
        if index == 0 and prefix != PRIMARY:
            raise ValidationError("%s: the first entry %r must be the primary address, written with upper-case SMTP: (SMTP:%s)."
                                  % (field, entry, address), field=field)
        if index > 0 and prefix == PRIMARY:
            raise ValidationError("%s: %r is a second primary address; only the first entry is SMTP:, the others are smtp: aliases."
                                  % (field, entry), field=field)
        if address.lower() in seen:
            raise ValidationError("%s: %s appears more than once; list each address once." % (field, address), field=field)
        seen.add(address.lower())
        if index == 0:
            primary = address
        else:
            aliases.append(address)
    return {"primary": primary, "aliases": aliases}


def format_proxy_addresses(primary, aliases=None, field="proxy_addresses"):
    """``SMTP:primary@d;smtp:alias@d`` from a primary address and aliases (bare or ``smtp:`` prefixed)."""
    if primary is None or (isinstance(primary, str) and not primary.strip()):
        raise ValidationError("%s needs a primary address." % field, field=field)
    if aliases is None:
        aliases = []
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, (list, tuple)):
        raise ValidationError("%s: aliases must be a list of addresses, not %s." % (field, type(aliases).__name__), field=field)
    first = bare(primary, field + " primary", allow_primary_prefix=True)
    out = [PRIMARY + ":" + first]
    seen = {first.lower()}
    for alias in aliases:
        address = bare(alias, field + " alias")
        if address.lower() in seen:
            raise ValidationError("%s: %s appears more than once (aliases must differ from each other and from the primary)."
                                  % (field, address), field=field)
        seen.add(address.lower())
        out.append(ALIAS + ":" + address)
    return SEPARATOR.join(out)


# --------------------------------------------------------------------------------------------------------------
# Exchange EmailAddresses and the plan of m365_alias


def address_part(entry):
    return entry.split(":", 1)[1] if ":" in entry else entry


def is_smtp(entry):
    return ":" not in entry or entry.split(":", 1)[0].lower() == "smtp"


def primary_of(email_addresses):
    return next((address_part(e) for e in email_addresses or [] if e.startswith(PRIMARY + ":")), None)


def address_view(email_addresses):
    """The before/after shape: primary, aliases (every other SMTP address) and the full list."""
    addresses = list(email_addresses or [])
    primary = primary_of(addresses)
    return {"primary": primary,
            "aliases": [address_part(e) for e in addresses if is_smtp(e) and not e.startswith(PRIMARY + ":")],
            "email_addresses": addresses}


def build_alias_spec(params):
    """Validate and normalise m365_alias's options. Raises ValidationError; makes no call."""
    user = (params.get("user") or "").strip()
    if not user:
        raise ValidationError("user is empty; give the user's UPN or object id.", field="user")
    aliases = _model.ListChange(params.get("aliases"), "aliases", normalise=bare)
    primary = params.get("primary")
    if primary is not None:
        primary = bare(primary, "primary", allow_primary_prefix=True)
    if not aliases.given and primary is None:
        raise ValidationError("Give aliases (add, remove or set) or primary; there is nothing to do.", field="aliases")
    if primary is not None and primary.lower() in [a.lower() for a in aliases.remove] and aliases.set is None:
        raise ValidationError("%s is both the primary and an alias to remove; keep it, or choose another primary." % primary, field="aliases")
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)
    return {"user": user, "aliases": aliases, "primary": primary, "max_removals": params.get("max_removals")}


MAX_REMOVALS = 10


def new_addresses(spec, email_addresses):
    """The SMTP addresses the spec would add to the mailbox (those to check for other owners)."""
    held = set(address_part(e).lower() for e in email_addresses or [])
    change = spec["aliases"]
    wanted = list(change.set if change.set is not None else change.add) + ([spec["primary"]] if spec["primary"] else [])
    out = []
    for address in wanted:
        if address.lower() not in held and address.lower() not in [a.lower() for a in out]:
            out.append(address)
    return out


def on_accepted_domains(addresses, accepted_domains):
    """The addresses whose domain is an accepted domain (only those are worth looking up: the others are refused)."""
    accepted = set(d.lower() for d in accepted_domains if d)
    return [a for a in addresses if domain_of(a) in accepted]


def check_domains(addresses, accepted_domains, user):
    """Every address's domain must be an accepted domain of the Exchange organisation."""
    accepted = sorted(set(d.lower() for d in accepted_domains))
    for address in addresses:
        if domain_of(address) not in accepted:
            raise ValidationError(
                "%s cannot get %s: %s is not an accepted domain of this Exchange Online organisation (accepted: %s). "
                "Add and verify the domain in Microsoft 365 first, or use an accepted domain." % (user, address, domain_of(address), ", ".join(accepted)),
                field="aliases")


def check_owners(addresses, owners, user):
    """``owners`` maps lower-case addresses to a description of another recipient holding them."""
    for address in addresses:
        owner = owners.get(address.lower())
        if owner:
            raise ValidationError(
                "%s cannot get %s: the address already belongs to %s. Remove it there first, or choose another address."
                % (user, address, owner), field="aliases")


def plan_aliases(spec, email_addresses, accepted_domains, owners, user_label):
    """Compare the spec with a mailbox's EmailAddresses; returns the plan (or raises ValidationError).

    Plan: ``calls`` (one Set-Mailbox at most: a full list when the primary changes, else an Add/Remove hash table),
    ``before``/``after`` (address_view), ``added``, ``removed``, ``primary_changed``.
    """
    current = list(email_addresses or [])
    held = dict((address_part(e).lower(), e) for e in current)
    current_primary = primary_of(current)
    change = spec["aliases"]
    adds = new_addresses(spec, current)
    wanted = list(change.set if change.set is not None else change.add) + ([spec["primary"]] if spec["primary"] else [])
    check_domains(wanted, accepted_domains, user_label)
    check_owners(adds, owners, user_label)
    new_primary = None
    if spec["primary"] and (current_primary or "").lower() != spec["primary"].lower():
        new_primary = spec["primary"]
    primary_after = (new_primary or current_primary or "").lower()
    removes = []
    if change.set is not None:
        keep = set(a.lower() for a in wanted)
        for entry in current:
            address = address_part(entry)
            if not is_smtp(entry) or address.lower() in keep or address.lower() == primary_after or is_routing(address):
                continue
            removes.append(address)
    else:
        for address in change.remove:
            entry = held.get(address.lower())
            if entry is None:
                continue
            if address.lower() == primary_after:
                raise ValidationError("%s is the primary address of %s and cannot be removed; make another address the primary first "
                                      "(primary)." % (address, user_label), field="aliases")
            if is_routing(address):
                raise ValidationError("%s is the Microsoft 365 routing address of %s (*.onmicrosoft.com); Exchange keeps it, so it cannot "
                                      "be removed." % (address, user_label), field="aliases")
            removes.append(address_part(entry))
    if removes:
        smtp_aliases = [e for e in current if is_smtp(e) and not e.startswith(PRIMARY + ":")]
        _model.check_removals(removes, spec["max_removals"], len(smtp_aliases), MAX_REMOVALS, "aliases", user_label)

    removed_lower = set(r.lower() for r in removes)
    calls = []
    if new_primary is not None:
        after = [PRIMARY + ":" + new_primary]
        for entry in current:
            address = address_part(entry)
            if address.lower() == new_primary.lower() or address.lower() in removed_lower:
                continue
            after.append(ALIAS + ":" + address if entry.startswith(PRIMARY + ":") else entry)
        for address in adds:
            if address.lower() != new_primary.lower():
                after.append(ALIAS + ":" + address)
        calls.append({"cmdlet": "Set-Mailbox", "parameters": {"EmailAddresses": after}})
    else:
        after = [e for e in current if address_part(e).lower() not in removed_lower] + [ALIAS + ":" + a for a in adds]
        if removes:
            # The whole list, which replaces every address (public clients confirm it); a "Remove" key in the hashtable
            # below is shown by no public client, so it is not used.
            calls.append({"cmdlet": "Set-Mailbox", "parameters": {"EmailAddresses": after}})
        elif adds:
            # Only additions: the hashtable's "Add" (as CIPP sends it) leaves every other address as it is.
            calls.append({"cmdlet": "Set-Mailbox", "parameters": {"EmailAddresses": {"@odata.type": HASHTABLE, "Add": [ALIAS + ":" + a for a in adds]}}})
    return {
        "calls": calls,
        "before": address_view(current),
        "after": address_view(after),
        "added": adds,
        "removed": removes,
        "primary_changed": new_primary is not None,
    }
