# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks that run before any write, and strong password generation.

Every function raises ``ValidationError`` with a sentence that says what is wrong and what to do.
Phone numbers are parsed with Google's libphonenumber port (``phonenumbers``) and e-mail addresses
with ``email-validator``, rather than with home-grown regular expressions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import re
import secrets
import string

# (duplicates: the import guard ansible-test asks around each optional library; the module then names the missing one)
try:
    import phonenumbers
    HAS_PHONENUMBERS = True
    PHONENUMBERS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_PHONENUMBERS = False
    PHONENUMBERS_IMPORT_ERROR = exc

try:
    import email_validator
    HAS_EMAIL_VALIDATOR = True
    EMAIL_VALIDATOR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_EMAIL_VALIDATOR = False
    EMAIL_VALIDATOR_IMPORT_ERROR = exc


class ValidationError(Exception):
    """Bad input or a refused plan, found before any write. ``details`` are returned beside ``msg`` and ``field``."""

    def __init__(self, message, field=None, **details):
        super(ValidationError, self).__init__(message)
        self.message = message
        self.field = field
        self.details = details


def close_matches(word, candidates, n=3, cutoff=0.6, containing=False):
    """The candidates that look like ``word`` (any case), closest first, as written in ``candidates``.

    ``containing`` also offers the candidates that contain ``word`` (a role asked for as "Exchange" finds "Exchange
    Administrator"), ordered by the letters they share with it from the start, then by similarity."""
    lowered = {}
    for candidate in candidates:
        if candidate:
            lowered.setdefault(candidate.lower(), candidate)
    wanted = (word or "").strip().lower()
    found = [lowered[m] for m in difflib.get_close_matches(wanted, list(lowered), n=n * 2 if containing else n, cutoff=cutoff)]
    if not containing:
        return found

    for lower, candidate in sorted(lowered.items()):
        if wanted and wanted in lower and candidate not in found:
            found.append(candidate)

    def score(candidate):
        lower = candidate.lower()
        prefix = 0
        while prefix < min(len(wanted), len(lower)) and wanted[prefix] == lower[prefix]:
            prefix += 1
        return (-prefix, -difflib.SequenceMatcher(None, wanted, lower).ratio(), candidate)

    return sorted(found, key=score)[:n]


GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Entra ID: the user part of a UPN may hold A-Z a-z 0-9 ' . - _ ! # ^ ~ (reference: user-post-users).
UPN_LOCAL_RE = re.compile(r"^[A-Za-z0-9'._!#^~-]+$")
DOMAIN_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
UPN_MAX = 113
UPN_LOCAL_MAX = 64


def is_guid(value):
    return bool(GUID_RE.match(value or ""))


def validate_domain_name(domain, what="domain"):
    labels = (domain or "").split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError("%s %r is not a valid DNS domain name." % (what.capitalize(), domain), field=what)
    return domain.lower()


def validate_upn(upn, field="user"):
    """Check a user principal name's syntax; returns ``(upn, domain)`` with the domain lower-cased."""
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise ValidationError("%s %r must look like name@domain, with exactly one @." % (field, upn), field=field)
    local, domain = upn.split("@")
    if not local:
        raise ValidationError("%s %r has nothing before the @." % (field, upn), field=field)
    if len(upn) > UPN_MAX or len(local) > UPN_LOCAL_MAX:
        raise ValidationError(
            "%s %r is too long: at most %d characters in all and %d before the @." % (field, upn, UPN_MAX, UPN_LOCAL_MAX),
            field=field)
    if not UPN_LOCAL_RE.match(local):
        bad = sorted(set(ch for ch in local if not UPN_LOCAL_RE.match(ch)))
        raise ValidationError(
            "%s %r contains characters Microsoft 365 does not allow before the @ (%s); "
            "use letters, digits and ' . - _ ! # ^ ~ only." % (field, upn, " ".join(repr(c) for c in bad)), field=field)
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValidationError("%s %r may not start or end with a dot or contain two dots in a row." % (field, upn),
                              field=field)
    validate_domain_name(domain, "%s domain" % field)
    return "%s@%s" % (local, domain.lower()), domain.lower()


def check_domain_verified(domain, domains, field="user"):
    """``domains`` is the Graph ``/domains`` list. Raises unless ``domain`` is verified there."""
    by_name = dict((d.get("id", "").lower(), d) for d in domains)
    verified = sorted(name for name, d in by_name.items() if d.get("isVerified"))
    found = by_name.get(domain.lower())
    if found is None:
        raise ValidationError("The domain %s is not a domain of this tenant. Verified domains: %s." % (domain, ", ".join(verified)), field=field)
    if not found.get("isVerified"):
        raise ValidationError(
            "The domain %s is in the tenant but not verified, so Microsoft 365 refuses it for %s. "
            "Verify it first, or use one of: %s." % (domain, field, ", ".join(verified)), field=field)
    return domain.lower()


def normalize_phone(value, region=None, field="mobile_phone"):
    """A phone number in E.164 form (``+61412345678``); local numbers need ``region``."""
    if value is None or value == "":
        return value
    try:
        parsed = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        hint = "" if region or value.strip().startswith("+") else " Give it in international form (+61 412 345 678) or set phone_region."
        raise ValidationError("%s %r is not a phone number.%s" % (field, value, hint), field=field)
    if not phonenumbers.is_valid_number(parsed):
        if value.strip().startswith("+"):
            # The number carries its own country code: phone_region plays no part, so name the code's country instead.
            country = phonenumbers.region_code_for_country_code(parsed.country_code)
            where = " for country code +%d%s" % (parsed.country_code, " (%s)" % country if country and country != "ZZ" else "")
        else:
            where = " for region %s" % region.upper() if region else ""
        raise ValidationError("%s %r is not a valid number%s: check the digits." % (field, value, where), field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_region(code, field="usage_location"):
    """An ISO 3166-1 alpha-2 country code (the regions libphonenumber knows)."""
    if code is None:
        return None
    upper = str(code).upper()
    if len(upper) != 2 or upper not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError("%s %r is not an ISO 3166 two-letter country code (for example AU, GB, US)." % (field, code), field=field)
    return upper


DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T00:00(:00(\.0+)?)?(Z|[+-]00:00))?$")


def validate_date(value, field="employee_hire_date"):
    """A calendar day, as YYYY-MM-DD (or that day at midnight UTC, as Graph returns it)."""
    match = DATE_RE.match(str(value).strip())
    try:
        return datetime.date(*(int(part) for part in match.group(1).split("-"))).isoformat()
    except (AttributeError, ValueError):
        raise ValidationError("%s %r is not a day as YYYY-MM-DD (for example 2027-01-04)." % (field, value), field=field)


def validate_email(address, field="other_mails"):
    try:
        result = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError("%s %r is not a valid e-mail address: %s" % (field, address, exc), field=field)
    return check_local_part(result.normalized, address, field)


EMAIL_LOCAL_MAX = 64


def check_local_part(normalized, address, field):
    """RFC 5321 allows at most 64 characters before the @; email-validator checks that only in its strict mode."""
    local = normalized.rsplit("@", 1)[0]
    if len(local) > EMAIL_LOCAL_MAX:
        raise ValidationError("%s %r is not a valid e-mail address: it has %d characters before the @-sign, and at most %d are allowed." % (
            field, address, len(local), EMAIL_LOCAL_MAX), field=field)
    return normalized


def check_password(password, upn=None):
    """Entra ID's rules: 8 to 256 characters, three of four character classes, not the user name."""
    if len(password) < 8 or len(password) > 256:
        raise ValidationError("password must be 8 to 256 characters long.", field="password")
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    if sum(classes) < 3:
        raise ValidationError("password must mix at least three of: lower case, upper case, digits, symbols.", field="password")
    if upn and upn.split("@")[0].lower() in password.lower():
        raise ValidationError("password must not contain the user name.", field="password")


PASSWORD_SYMBOLS = "!#%+-.=?@^_~"


def generate_password(length=20):
    """A random password with every character class, from the OS's CSPRNG."""
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for dummy in range(length))
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate) and any(c in PASSWORD_SYMBOLS for c in candidate)):
            return candidate


def free_seats(sku):
    units = sku.get("prepaidUnits") or {}
    return int(units.get("enabled", 0)) + int(units.get("warning", 0)) - int(sku.get("consumedUnits", 0))


def resolve_skus(requested, subscribed):
    """Map part numbers or GUIDs to subscribed SKUs; unknown names fail with the names on offer."""
    by_part = dict((s["skuPartNumber"].upper(), s) for s in subscribed)
    by_id = dict((s["skuId"].lower(), s) for s in subscribed)
    resolved, unknown = [], []
    for name in requested:
        sku = by_id.get(name.lower()) if is_guid(name) else by_part.get(name.upper())
        if sku is None:
            unknown.append(name)
        elif sku not in resolved:
            resolved.append(sku)
    if unknown:
        raise ValidationError(
            "Unknown licence %s: this tenant subscribes to %s. Give a SKU part number or skuId from that list." % (
                ", ".join(unknown), ", ".join(sorted(by_part))), field="licenses")
    return resolved


def seat_error(wanted, subscribed):
    """The sentence for a SKU with no free seat, naming the SKUs that do have seats."""
    with_seats = ["%s (%d free)" % (s["skuPartNumber"], free_seats(s)) for s in sorted(subscribed, key=lambda s: s["skuPartNumber"])
                  if free_seats(s) > 0]
    return ("No free seat on %s: %d bought, %d in use. Buy more seats or free one; SKUs with free seats: %s." % (
        wanted["skuPartNumber"], int((wanted.get("prepaidUnits") or {}).get("enabled", 0)), int(wanted.get("consumedUnits", 0)),
        ", ".join(with_seats) or "none"))


_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_time(value, assume_utc=False):
    """An ISO 8601 time (``Z`` or an offset; without one only with ``assume_utc``, as Graph's times are UTC) or Exchange's
    ``/Date(ms)/`` as a naive UTC datetime, or None when it is neither."""
    if value is None:
        return None
    text = str(value).strip()
    found = _MS_DATE.match(text)
    if found:
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=int(found.group(1)))
    found = _TIME.match(text)
    if not found:
        return None
    zone = found.group(7)
    if zone is None and not assume_utc:
        return None
    try:
        moment = datetime.datetime(*(int(found.group(n) or 0) for n in range(1, 7)))
    except ValueError:
        return None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def utc_text(moment):
    """A naive UTC datetime as Graph writes times (None stays None)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
