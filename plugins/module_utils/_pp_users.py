# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Practice Protect users (pp_user): desired state, current state, a plan of calls, then apply.

Plain Python, reachable by unit tests without Ansible. ``build_spec`` validates the options (no I/O);
``resolve_attributes`` maps attribute names or titles to the tenant's columns; ``plan_user`` compares with the
current user (a Redrock ``User`` row plus its attribute values) and returns the exact calls; ``apply`` sends them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError, sql_string

FIELDS = (("display_name", "DisplayName"), ("mail", "Mail"), ("mobile_number", "MobileNumber"))
# Redrock User columns for the same fields.
ROW_FIELDS = {"DisplayName": "DisplayName", "Mail": "Email", "MobileNumber": "MobileNumber"}
PROXY_ATTRIBUTE = "proxyAddresses"


def close_matches(word, candidates, n=3, cutoff=0.6):
    lowered = {}
    for candidate in candidates:
        if candidate:
            lowered.setdefault(candidate.lower(), candidate)
    return [lowered[m] for m in difflib.get_close_matches((word or "").lower(), list(lowered), n=n, cutoff=cutoff)]


def did_you_mean(word, candidates):
    matches = close_matches(word, candidates)
    return " Close matches: %s." % ", ".join(matches) if matches else ""


def format_proxy_addresses(addresses, field="proxy_addresses"):
    """``[primary, alias...]`` -> ``SMTP:primary;smtp:alias`` (the first is the primary, the reply address)."""
    out = []
    seen = set()
    for index, entry in enumerate(addresses):
        address = entry
        if isinstance(entry, str) and entry[:5].lower() == "smtp:":
            address = entry[5:]
        address = v.validate_email(address, field)
        if address.lower() in seen:
            raise v.ValidationError("%s lists %s twice; give each address once (the first one is the primary)." % (field, address), field=field)
        seen.add(address.lower())
        out.append(("SMTP:" if index == 0 else "smtp:") + address)
    return ";".join(out)


def parse_proxy_addresses(value):
    """``SMTP:primary;smtp:alias`` -> ``["SMTP:primary", "smtp:alias"]`` (entries kept as written)."""
    return [item.strip() for item in (value or "").split(";") if item.strip()]


def build_spec(params):
    """Validate and normalise the options. Raises ValidationError; makes no call."""
    source = params.get("source") or "cloud"
    state = params.get("state") or "present"
    name = (params.get("name") or "").strip()
    if name.count("@") != 1 or name.startswith("@") or name.endswith("@"):
        what = "login name, login@suffix" if source == "cloud" else "the user's e-mail address or UPN in the source directory"
        raise v.ValidationError("name %r must be %s." % (name, what), field="name")
    if source == "directory":
        v.validate_email(name, "name")
    region = v.validate_region(params.get("phone_region"), "phone_region") if params.get("phone_region") else None
    props = {}
    for option, field in FIELDS:
        value = params.get(option)
        if value is None:
            continue
        if source == "directory" and state == "present":
            raise v.ValidationError(
                "%s cannot be set for a user from the source directory: Practice Protect reads it from Microsoft 365. "
                "Change it there (m365_user) or leave it out." % option, field=option)
        if option == "mail":
            value = v.validate_email(value, "mail")
        elif option == "mobile_number":
            value = v.normalize_phone(value, region, "mobile_number")
        elif not value.strip():
            raise v.ValidationError("%s is empty; leave it out to keep the current value." % option, field=option)
        props[field] = value
    password = params.get("password")
    if password is not None:
        if source == "directory":
            raise v.ValidationError("password cannot be set for a user from the source directory; it signs in with its Microsoft 365 "
                                    "password.", field="password")
        v.check_password(password, name)
    attributes = dict(params.get("attributes") or {})
    for key, value in attributes.items():
        if value is not None and not isinstance(value, (str, int, bool)):
            raise v.ValidationError("attributes.%s must be a string, a number, true/false or null (null clears it)." % key, field="attributes")
    proxy = None
    if params.get("proxy_addresses") is not None:
        if not params["proxy_addresses"]:
            raise v.ValidationError("proxy_addresses is empty; list the primary address first, then the aliases.", field="proxy_addresses")
        proxy = format_proxy_addresses(params["proxy_addresses"])
    send_invite = params.get("send_invite")
    if send_invite is None:
        send_invite = source == "directory"
    return {
        "name": name, "source": source, "state": state, "props": props, "password": password,
        "update_password": params.get("update_password") or "on_create",
        "force_password_change": params.get("force_password_change", True) is not False,
        "send_invite": bool(send_invite), "attributes": attributes, "proxy_addresses": proxy,
        "proxy_attribute": params.get("proxy_addresses_attribute") or PROXY_ATTRIBUTE,
        "directory": params.get("directory"),
    }


def resolve_attributes(spec, columns):
    """The wanted attribute values keyed by column Name. Keys may be a column's Name or Title (case-insensitive)."""
    lookup = {}
    for column in columns:
        for key in (column.get("Name"), column.get("Title")):
            if key:
                lookup.setdefault(key.lower(), column)
    names = sorted(c.get("Name") for c in columns)
    wanted = {}
    for key, value in spec["attributes"].items():
        column = lookup.get(key.lower())
        if column is None:
            titles = [c.get("Title") for c in columns] + [c.get("Name") for c in columns]
            raise v.ValidationError("attributes: %s is not an additional attribute of this tenant.%s Attributes: %s." % (
                key, did_you_mean(key, titles), ", ".join(names)), field="attributes")
        kind = column.get("Type") or "Text"
        if value is not None:
            ok = ((kind in ("Text", "Date") and isinstance(value, str)) or (kind == "Integer" and isinstance(value, int) and not isinstance(value, bool))
                  or (kind == "Boolean" and isinstance(value, bool)))
            if not ok:
                raise v.ValidationError("attributes.%s must be of type %s." % (key, kind), field="attributes")
        wanted[column["Name"]] = value
    if spec["proxy_addresses"] is not None:
        column = lookup.get(spec["proxy_attribute"].lower())
        if column is None:
            raise v.ValidationError(
                "proxy_addresses needs an additional attribute named or titled %s, and this tenant has none. Attributes: %s. Set "
                "proxy_addresses_attribute to the right one." % (spec["proxy_attribute"], ", ".join(names)), field="proxy_addresses_attribute")
        if column["Name"] in wanted and wanted[column["Name"]] != spec["proxy_addresses"]:
            raise v.ValidationError("proxy_addresses and attributes.%s disagree; give the addresses once." % column["Name"], field="attributes")
        wanted[column["Name"]] = spec["proxy_addresses"]
    return wanted


def check_login_suffix(name, suffixes):
    suffix = name.split("@", 1)[1].lower()
    if suffix not in [s.lower() for s in suffixes if s]:
        raise v.ValidationError("name %s: %s is not a login suffix of this Practice Protect tenant. Login suffixes: %s." % (
            name, suffix, ", ".join(s for s in suffixes if s)), field="name")


def find_user_query(name, by_email=False):
    """Redrock SQL for the user with this login name (or, for a source-directory user, this e-mail address)."""
    where = "lower(Username) = lower(%s)" % sql_string(name)
    if by_email:
        where = "%s OR lower(Email) = lower(%s)" % (where, sql_string(name))
    return "SELECT ID, Username, DisplayName, Email, MobileNumber, SourceDsType, Status FROM User WHERE %s ORDER BY Username" % where


def directory_filter(name):
    """DirectoryServiceQuery user filter: the user whose UPN (SystemName) or e-mail is ``name``."""
    return '{"_and":[{"_or":[{"SystemName":%s},{"EMail":%s}]},{"ObjectType":"user"}]}' % (_json_str(name), _json_str(name))


def _json_str(value):
    return json.dumps(value)


def view(row, values):
    """The before/after shape: Practice Protect field names, attribute values, no secrets."""
    if not row:
        return {}
    out = {"ID": row.get("ID"), "Name": row.get("Username") or row.get("Name")}
    for field, column in ROW_FIELDS.items():
        value = row.get(column) if column in row else row.get(field)
        if value is not None:
            out[field] = value
    if row.get("SourceDsType"):
        out["Source"] = row["SourceDsType"]
    out["Attributes"] = dict((k, val) for k, val in sorted((values or {}).items()) if val is not None)
    return out


def plan_user(spec, current, current_values, wanted_values, directory_row=None):
    """Compare the spec with the tenant; returns ``{action, calls, before, after, ...}``.

    ``current``: the Redrock User row (or None); ``current_values``: its attribute values; ``wanted_values``: the
    resolved attributes; ``directory_row``: for ``source: directory``, the DirectoryServiceQuery row of the user to
    invite. Raises ValidationError for problems only visible against the tenant.
    """
    plan = {"name": spec["name"], "action": "none", "calls": [], "password_set": False}
    before = view(current, current_values)
    if spec["state"] == "absent":
        if current:
            plan["action"] = "delete"
            plan["calls"].append({"op": "delete", "endpoint": "remove_users", "body": {"Users": [current["ID"]]}, "fields": ["Users"]})
        plan["before"], plan["after"] = before, {}
        return plan

    if current and spec["source"] == "cloud" and (current.get("SourceDsType") or "CDS") != "CDS":
        raise v.ValidationError("%s is a user from the %s directory, not the cloud directory; use source: directory for it." % (
            spec["name"], current.get("SourceDsType")), field="source")
    after_row = dict(current or {})
    user_id = current["ID"] if current else None
    if not current and spec["source"] == "cloud":
        plan["action"] = "create"
        password = spec["password"] or v.generate_password()
        body = {"Name": spec["name"], "Password": password, "ForcePasswordChangeNext": spec["force_password_change"],
                "SendEmailInvite": spec["send_invite"], "SendSmsInvite": False, "InEverybodyRole": True, "PasswordNeverExpire": False}
        body.update(spec["props"])
        body.setdefault("DisplayName", spec["name"].split("@")[0])
        plan["calls"].append({"op": "create", "endpoint": "create_user", "body": body, "fields": sorted(body)})
        plan["password"] = password
        plan["password_generated"] = spec["password"] is None
        plan["password_set"] = True
        after_row = {"ID": None, "Username": spec["name"], "SourceDsType": "CDS"}
        for field, value in body.items():
            if field in ROW_FIELDS:
                after_row[ROW_FIELDS[field]] = value
    elif not current:
        if directory_row is None:
            raise v.ValidationError(
                "No user with the UPN or e-mail address %s in the source directory %s. Create the user in Microsoft 365 first "
                "(m365_user), or check the address." % (spec["name"], spec["directory"] or "(any)"), field="name")
        plan["action"] = "invite"
        body = {"Entities": [{"Type": "User", "Guid": directory_row["InternalName"], "Name": directory_row["SystemName"]}],
                "EmailInvite": spec["send_invite"], "SmsInvite": False, "GroupInvite": True}
        plan["calls"].append({"op": "invite", "endpoint": "invite_users", "body": body, "fields": sorted(body)})
        after_row = {"ID": directory_row["InternalName"], "Username": directory_row["SystemName"], "DisplayName": directory_row.get("DisplayName"),
                     "Email": directory_row.get("EMail"), "SourceDsType": directory_row.get("ServiceType")}
    else:
        changes = {}
        for field, value in spec["props"].items():
            if (current.get(ROW_FIELDS[field]) or None) != value:
                changes[field] = value
        if changes:
            body = dict(changes, ID=user_id)
            plan["calls"].append({"op": "update", "endpoint": "change_user", "body": body, "fields": sorted(body)})
            for field, value in changes.items():
                after_row[ROW_FIELDS[field]] = value
        if spec["password"] is not None and spec["update_password"] == "always":
            plan["calls"].append({"op": "password", "endpoint": "reset_password", "body": {"ID": user_id, "newPassword": spec["password"]},
                                  "fields": ["ID", "newPassword"]})
            plan["password_set"] = True
        if plan["calls"]:
            plan["action"] = "update"

    values = dict(current_values or {})
    changed_columns = dict((name, value) for name, value in wanted_values.items() if values.get(name) != value)
    after_values = dict(values)
    if changed_columns:
        after_values.update(changed_columns)
        # SetColumns may replace the whole map (UNCONFIRMED whether it is a partial update): send every value kept.
        merged = dict((name, value) for name, value in values.items() if value is not None)
        merged.update(changed_columns)
        plan["calls"].append({"op": "attributes", "endpoint": "set_columns", "body": {"Table": "users", "ID": user_id or "{id}", "Columns": merged},
                              "fields": sorted(changed_columns)})
        if plan["action"] == "none":
            plan["action"] = "update"
    plan["before"] = before
    plan["after"] = view(after_row, after_values)
    return plan


def public_calls(plan):
    """The plan as shown to people: endpoint path and field names, never values (passwords)."""
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import ENDPOINTS
    return [{"op": c["op"], "method": "POST", "path": ENDPOINTS[c["endpoint"]], "fields": c.get("fields", [])} for c in plan["calls"]]


def apply(client, plan):
    """Send the plan's calls in order; returns the user's ID."""
    user_id = None
    for call in plan["calls"]:
        body = dict(call["body"])
        if call["op"] == "create":
            try:
                user_id = client.call("create_user", body)
            except PracticeProtectError as exc:
                # A retried CreateUser whose first attempt had reached the service (or a user the plan's read did not
                # see yet): the name is taken by now, so adopt that user and go on with the remaining calls. The ErrorID
                # of a taken name is not publicly documented; any other answer fails the task as it is.
                rows = client.query(find_user_query(plan["name"])) if exc.error_id == "DuplicateUserName" else []
                if not rows:
                    raise
                user_id = rows[0]["ID"]
                plan["adopted"] = True
            continue
        if call["op"] == "invite":
            client.call("invite_users", body)
            rows = client.query(find_user_query(body["Entities"][0]["Name"]))
            user_id = rows[0]["ID"] if rows else body["Entities"][0]["Guid"]
            continue
        if body.get("ID") == "{id}":
            body["ID"] = user_id
        client.call(call["endpoint"], body)
        user_id = user_id or body.get("ID") or (body.get("Users") or [None])[0]
    return user_id
