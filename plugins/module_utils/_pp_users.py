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

import json
import re
import threading

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses
from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError, PracticeProtectUncertain, sql_string


def _mail(value, option, context):
    return v.validate_email(value, option)


def _mobile(value, option, context):
    return v.normalize_phone(value, context.get("region"), option)


# The Practice Protect cloud user: option, the field CreateUser/ChangeUser take, the check, the Redrock column reads return.
PP_USER = _model.Resource("Practice Protect user", [
    _model.Field("display_name", "DisplayName"),
    _model.Field("mail", "Mail", check=_mail, read="Email"),
    _model.Field("mobile_number", "MobileNumber", check=_mobile),
])
USER_COLUMNS = "ID, Username, DisplayName, Email, MobileNumber, SourceDsType, Status"
QUERY_CHUNK = 50  # people per Redrock query and per DirectoryServiceQuery
# People per InviteUsers call. The service documents no maximum for Entities; the chunk is bounded by its read-back,
# one Redrock query whose IN list has the same QUERY_CHUNK names (Redrock's query-size limit is not documented either),
# and by what one refused call costs: its people are invited again one by one. Measured at 1,000 joiners (make bench),
# 50 already makes the invitations 40 calls of the run's thousands; a larger chunk would save under a second.
INVITE_CHUNK = QUERY_CHUNK
# A task that reads more people than this reads Practice Protect's whole User table (pages of 1,000) instead of one
# query per QUERY_CHUNK people: fewer requests unless the tenant has over 20 times as many users as the task.
WHOLE_TABLE_AT = 2 * QUERY_CHUNK
PROXY_ATTRIBUTE = "proxyAddresses"
# Characters Practice Protect accepts before the @ of a cloud user's login name (as the sandbox emulates it; the
# service's own list is UNCONFIRMED). Checked here so that a bad name is refused before any call.
LOGIN_LOCAL_RE = re.compile(r"^[A-Za-z0-9._'+!#^~-]+$")


def did_you_mean(word, candidates):
    matches = v.close_matches(word, candidates)
    return " Close matches: %s." % ", ".join(matches) if matches else ""


def parse_proxy_addresses(value):
    """``SMTP:primary;smtp:alias`` -> ``["SMTP:primary", "smtp:alias"]`` (entries kept as written)."""
    return [item.strip() for item in (value or "").split(";") if item.strip()]


def build_spec(params):
    """Validate and normalise the options. Raises ValidationError; makes no call."""
    source = params.get("source") or "cloud"
    state = params.get("state") or "present"
    name = (params.get("user") or "").strip()
    if name.count("@") != 1 or name.startswith("@") or name.endswith("@"):
        what = "login name, login@suffix" if source == "cloud" else "the user's e-mail address or UPN in the source directory"
        raise v.ValidationError("user %r must be %s." % (name, what), field="user")
    if source == "directory":
        v.validate_email(name, "user")
    else:
        bad = sorted(set(ch for ch in name.split("@")[0] if not LOGIN_LOCAL_RE.match(ch)))
        if bad:
            raise v.ValidationError("user %r contains characters Practice Protect does not allow in a login name (%s); use letters, digits "
                                    "and ' . - _ + ! # ^ ~ only." % (name, " ".join(repr(c) for c in bad)), field="user")
    region = v.validate_region(params.get("phone_region"), "phone_region") if params.get("phone_region") else None
    if source == "directory" and state == "present":
        for field in PP_USER.fields:
            if params.get(field.option) is not None:
                raise v.ValidationError(
                    "%s cannot be set for a user from the source directory: Practice Protect reads it from Microsoft 365. "
                    "Change it there (m365_user) or leave it out." % field.option, field=field.option)
    props = PP_USER.properties(params, {"region": region})
    password = params.get("password")
    if params.get("description") is not None and source == "directory":
        raise v.ValidationError("description applies to cloud users; a source-directory user's fields come from that directory.",
                                field="description")
    if params.get("enabled") is not None and source == "directory":
        raise v.ValidationError("enabled applies to cloud users; a user from the source directory signs in as its directory allows "
                                "(block it there, for example with m365_user account_enabled: false).", field="enabled")
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
        proxy = _addresses.format_proxy_addresses(params["proxy_addresses"][0], params["proxy_addresses"][1:])
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
        "enabled": params.get("enabled"),
        "description": params.get("description"),
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
        wanted[column["Name"]] = attribute_value(column, value, key)
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


# Additional attribute values. A column's Type is Text, Integer, Boolean or Date. CyberArk's Go SDK sends every value as a
# string ("42", "true") and reads every value back as one (reference section 12), so Practice Protect takes strings for typed
# columns; whether GetColumns answers typed values or strings is not publicly documented. Values are therefore compared as
# their column's type (``attribute_value``, ``typed_values``) and sent as the SDK sends them (``sent``).
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False}


def attribute_value(column, value, key):
    """``value`` of the option ``attributes.<key>`` as its column's type: an int for Integer (a number, or a string of
    digits), a bool for Boolean (true/false, or a string true/false/yes/no), a string otherwise; None clears.
    ValidationError for what the column cannot hold."""
    if value is None:
        return None
    kind = column.get("Type") or "Text"
    typed = _typed(kind, value)
    if typed is None:
        what = {"Integer": "a whole number (4711 or \"4711\")", "Boolean": "true or false"}.get(kind, "a string")
        raise v.ValidationError("attributes.%s must be %s: the attribute's type is %s." % (key, what, kind), field="attributes")
    return typed


def _typed(kind, value):
    """``value`` as a ``kind`` column holds it, or None when it cannot be one."""
    if kind == "Integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.match(r"^\s*[-+]?\d+\s*$", value):
            return int(value)
        return None
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        return BOOLEAN_WORDS.get(value.strip().lower()) if isinstance(value, str) else None
    return value if isinstance(value, str) else None


def typed_values(values, columns):
    """GetColumns values as their columns' types (a tenant may answer "4711" for an Integer column); a value that does not
    read as its type is kept as it came, so it shows as different from any wanted value."""
    kinds = dict((c.get("Name"), c.get("Type") or "Text") for c in columns)
    out = {}
    for name, value in (values or {}).items():
        typed = _typed(kinds[name], value) if name in kinds and value is not None else None
        out[name] = value if typed is None else typed
    return out


def sent(value):
    """A value as SetColumns gets it: the string CyberArk's SDK sends for a typed column ("4711", "true"); null clears."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def check_login_suffix(name, suffixes):
    suffix = name.split("@", 1)[1].lower()
    if suffix not in [s.lower() for s in suffixes if s]:
        raise v.ValidationError("user %s: %s is not a login suffix of this Practice Protect tenant. Login suffixes: %s." % (
            name, suffix, ", ".join(s for s in suffixes if s)), field="user")


def find_user_query(name, by_email=False):
    """Redrock SQL for the user with this login name (or, for a source-directory user, this e-mail address)."""
    where = "lower(Username) = lower(%s)" % sql_string(name)
    if by_email:
        where = "%s OR lower(Email) = lower(%s)" % (where, sql_string(name))
    return "SELECT %s FROM User WHERE %s ORDER BY Username" % (USER_COLUMNS, where)


def find_users_query(names, emails=()):
    """Redrock SQL for the users with these login names, and (source-directory users) these e-mail addresses.

    The values are compared in lower case, each quoted as an SQL string literal (single quotes doubled).
    """
    clauses = ["lower(Username) IN (%s)" % ", ".join(sql_string(n.lower()) for n in names)]
    if emails:
        clauses.append("lower(Email) IN (%s)" % ", ".join(sql_string(e.lower()) for e in emails))
    return "SELECT %s FROM User WHERE %s ORDER BY Username" % (USER_COLUMNS, " OR ".join(clauses))


def read_named(client, names):
    """The Redrock User rows whose login name or e-mail address is one of ``names``: one query per QUERY_CHUNK names,
    rows in Username order (as a read of the whole table gives them)."""
    names = sorted(set(n.lower() for n in names))
    rows = {}
    for offset in range(0, len(names), QUERY_CHUNK):
        chunk = names[offset:offset + QUERY_CHUNK]
        for row in client.query(find_users_query(chunk, chunk)):
            rows[row.get("ID")] = row
    return sorted(rows.values(), key=_username)


def directory_filter(name):
    """DirectoryServiceQuery user filter: the user whose UPN (SystemName) or e-mail is ``name``."""
    return directory_filter_many([name])


def directory_filter_many(names):
    """DirectoryServiceQuery user filter: the users whose UPN (SystemName) or e-mail is one of ``names``."""
    either = ",".join('{"SystemName":%s},{"EMail":%s}' % (_json_str(n), _json_str(n)) for n in names)
    return '{"_and":[{"_or":[%s]},{"ObjectType":"user"}]}' % either


def pick_user(rows, name, by_email=False):
    """The row of the user ``name`` names among Redrock rows: the login name first, else (``by_email``) the e-mail
    address; rows in Username order, as the queries sort them. None when no row matches."""
    lowered = name.lower()
    exact = [r for r in rows if (r.get("Username") or "").lower() == lowered]
    by_mail = [r for r in rows if by_email and (r.get("Email") or "").lower() == lowered]
    found = sorted(exact, key=_username) or sorted(by_mail, key=_username)
    return found[0] if found else None


def _username(row):
    return row.get("Username") or ""


def pick_directory_user(rows, name):
    """The source-directory (not cloud-directory) row whose UPN or e-mail address is ``name`` (compared case-insensitively
    here, whatever the service compared), or None. ValidationError when rows of more than one directory match: the person
    names ``directory``."""
    lowered = name.lower()
    found = [row for row in rows if (row.get("ServiceType") or "").upper() != "CDS"
             and lowered in ((row.get("SystemName") or "").lower(), (row.get("EMail") or "").lower())]
    directories = []
    for row in found:
        where = row.get("ServiceInstanceLocalized") or row.get("ServiceInstance") or row.get("ServiceType") or "?"
        if where not in directories:
            directories.append(where)
    if len(directories) > 1:
        raise v.ValidationError("%s is a user of more than one source directory (%s): set directory to the one to invite from." % (
            name, ", ".join(directories)), field="directory")
    return found[0] if found else None


# Directory services (GetDirectoryServices). The cloud directory (CDS) is never a source to invite from. A real tenant always
# lists FDS (the federated directory) and may list AdProxy or GDS directories whose Status is Inactive (reference section 12,
# from a public sample answer); only active ones are searched unless ``directory`` names one. The Status words of an active
# directory are UNCONFIRMED beyond that sample ("Active"; StatusDisplay "Online"): a directory with another Status is skipped
# and named in the error when nothing is left, and naming it in ``directory`` uses it whatever its Status.
CLOUD_DIRECTORY = "CDS"
ACTIVE_STATUSES = ("active", "online")


def directory_active(row):
    status = row.get("Status")
    return status is None or str(status).lower() in ACTIVE_STATUSES


def directory_label(row):
    return row.get("DisplayName") or row.get("Name") or row.get("Service") or "?"


def source_directories(services, directory=None):
    """The directories to search for a user to invite: the one ``directory`` names (by display name or name, compared
    case-insensitively), else every active directory that is not the cloud directory. ValidationError when there is none."""
    sources = [d for d in services if (d.get("Service") or "").upper() != CLOUD_DIRECTORY]
    if directory:
        wanted = directory.lower()
        chosen = [d for d in sources if wanted in ((d.get("DisplayName") or "").lower(), (d.get("Name") or "").lower())]
        if not chosen:
            raise v.ValidationError("directory %s is not a source directory of this tenant. Source directories: %s." % (
                directory, ", ".join(_described(d) for d in sources) or "none"), field="directory")
        return chosen[:1]
    active = [d for d in sources if directory_active(d)]
    if not active:
        inactive = [d for d in sources if not directory_active(d)]
        raise v.ValidationError("This Practice Protect tenant has no active source directory to invite from%s; use source: cloud, or name "
                                "the directory to search in directory." % (
                                    (" (inactive: %s)" % ", ".join(_described(d) for d in inactive)) if inactive else ""), field="source")
    return active


def _described(row):
    status = row.get("Status")
    return "%s (%s)" % (directory_label(row), status) if status is not None and not directory_active(row) else directory_label(row)


def _json_str(value):
    return json.dumps(value)


def view(row, values):
    """The before/after shape: Practice Protect field names, attribute values, no secrets."""
    if not row:
        return {}
    out = {"ID": row.get("ID"), "Name": row.get("Username") or row.get("Name")}
    out.update(PP_USER.view(row))
    if row.get("SourceDsType"):
        out["Source"] = row["SourceDsType"]
    for field in ("State", "Description"):
        if row.get(field):
            out[field] = row[field]
    out["Attributes"] = dict((k, val) for k, val in sorted((values or {}).items()) if val is not None)
    return out


def plan_user(spec, current, current_values, wanted_values, directory_row=None, user_attributes=None):
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
        if spec.get("description"):
            body["Description"] = spec["description"]
        plan["calls"].append({"op": "create", "endpoint": "create_user", "body": body, "fields": sorted(body)})
        plan["password"] = password
        plan["password_generated"] = spec["password"] is None
        plan["password_set"] = True
        after_row = dict(PP_USER.read_names(dict((f.service, body[f.service]) for f in PP_USER.fields if f.service in body)),
                         ID=None, Username=spec["name"], SourceDsType="CDS")
    elif not current:
        if directory_row is None:
            raise v.ValidationError(
                "No user with the UPN or e-mail address %s in the source directory %s. Create the user in Microsoft 365 first "
                "(m365_user), or check the address." % (spec["name"], spec["directory"] or "(any)"), field="user")
        plan["action"] = "invite"
        body = {"Entities": [{"Type": "User", "Guid": directory_row["InternalName"], "Name": directory_row["SystemName"]}],
                "EmailInvite": spec["send_invite"], "SmsInvite": False, "GroupInvite": True}
        plan["calls"].append({"op": "invite", "endpoint": "invite_users", "body": body, "fields": sorted(body)})
        after_row = {"ID": directory_row["InternalName"], "Username": directory_row["SystemName"], "DisplayName": directory_row.get("DisplayName"),
                     "Email": directory_row.get("EMail"), "SourceDsType": directory_row.get("ServiceType")}
    else:
        changes = PP_USER.changes(spec["props"], current)
        if spec.get("description") is not None and spec["source"] == "cloud":
            plan["description_before"] = (user_attributes or {}).get("Description") or ""
            if plan["description_before"] != spec["description"]:
                changes["Description"] = spec["description"]
        if changes:
            body = dict(changes, ID=user_id)
            plan["calls"].append({"op": "update", "endpoint": "change_user", "body": body, "fields": sorted(body)})
            after_row.update(PP_USER.read_names(changes))
        if spec["password"] is not None and spec["update_password"] == "always":
            plan["calls"].append({"op": "password", "endpoint": "reset_password", "body": {"ID": user_id, "newPassword": spec["password"]},
                                  "fields": ["ID", "newPassword"]})
            plan["password_set"] = True
        if plan["calls"]:
            plan["action"] = "update"

    if spec.get("enabled") is not None and spec["source"] == "cloud":
        wanted_state = USER_STATES["enabled" if spec["enabled"] else "disabled"]
        now = ((user_attributes or {}).get("State") or USER_STATES["enabled"]) if current else USER_STATES["enabled"]
        if (now or USER_STATES["enabled"]) != wanted_state:
            plan["calls"].append({"op": "state", "endpoint": "set_user_state", "body": {"ID": user_id or "{id}", "State": wanted_state},
                                  "fields": ["ID", "State"]})
            after_row["State"] = wanted_state
            if plan["action"] == "none":
                plan["action"] = "disable" if not spec["enabled"] else "enable"
        elif current:
            after_row["State"] = now

    values = dict(current_values or {})
    changed_columns = dict((name, value) for name, value in wanted_values.items() if values.get(name) != value)
    after_values = dict(values)
    if changed_columns:
        after_values.update(changed_columns)
        # SetColumns may replace the whole map (UNCONFIRMED whether it is a partial update): send every value kept.
        merged = dict((name, sent(value)) for name, value in values.items() if value is not None)
        merged.update((name, sent(value)) for name, value in changed_columns.items())
        plan["calls"].append({"op": "attributes", "endpoint": "set_columns", "body": {"Table": "users", "ID": user_id or "{id}", "Columns": merged},
                              "fields": sorted(changed_columns)})
        if plan["action"] == "none":
            plan["action"] = "update"
    plan["before"] = before
    plan["after"] = view(after_row, after_values)
    return plan


# The user states of SetUserState / GetUserAttributes (UNCONFIRMED: no public source lists them; the sandbox uses these).
USER_STATES = {"enabled": "None", "disabled": "Disabled"}


def public_calls(plan):
    """The plan as shown to people: endpoint path and field names, never values (passwords)."""
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import ENDPOINTS
    return [{"op": c["op"], "method": "POST", "path": ENDPOINTS[c["endpoint"]], "fields": c.get("fields", [])} for c in plan["calls"]]


def apply(client, plan, invites=None):
    """Send the plan's calls in order; returns the user's ID. ``invites`` (an Invitations of the module run) sends the
    invitation with those of the other people of the task."""
    user_id = None
    for call in plan["calls"]:
        body = dict(call["body"])
        if call["op"] == "create":
            try:
                user_id = client.call("create_user", body)
            except PracticeProtectError as exc:
                user_id = adopt(client, plan["name"], body, exc)
                plan["adopted"] = True
            continue
        if call["op"] == "invite":
            user_id = (invites or Invitations(client)).send(plan["name"], body)
            continue
        if body.get("ID") == "{id}":
            body["ID"] = user_id
        client.call(call["endpoint"], body)
        user_id = user_id or body.get("ID") or (body.get("Users") or [None])[0]
    return user_id


def adopt(client, name, body, error):
    """The ID of the user a failed CreateUser (``error``) may have made all the same, read back by name.

    A CreateUser retried after its first attempt reached the service is answered that the name is taken; the answer's
    ErrorID is not publicly documented (reference section 12), so nothing rests on it: the user is read back by login name,
    and adopted when it is a cloud user with the fields the request sent (the plan goes on, and a generated password is the
    user's). Otherwise the error stands, its message saying what was found."""
    row = pick_user(client.query(find_user_query(name)), name)
    if row is None:
        raise error
    wanted = dict((f.service, body[f.service]) for f in PP_USER.fields if f.service in body)
    differ = sorted(PP_USER.changes(wanted, row))
    if (row.get("SourceDsType") or "CDS") != "CDS":
        differ.insert(0, "source directory %s" % row.get("SourceDsType"))
    if differ:
        raise PracticeProtectError(
            "Creating Practice Protect user %s failed (%s), and a user of that name exists that this task did not make: its %s "
            "differ%s from the request. Check the user in the Admin Portal; run the task again to update it to the request." % (
                name, error.message.rstrip("."), ", ".join(differ), "s" if len(differ) == 1 else ""),
            error_id=error.error_id, status=error.status, path=error.path, error_code=error.error_code)
    return row["ID"]


def invite(client, body):
    """InviteUsers for the entities of ``body``, at most once each: an invitation e-mails the person, so a call whose answer
    was lost is not sent again blindly. The users are read back; the call goes a second time only for those Practice
    Protect does not have yet (the call never got through for them). Returns ``{login name: Redrock row or None}`` of the
    read-back."""
    names = [entity["Name"] for entity in body["Entities"]]
    try:
        client.call("invite_users", body, once=True)
        return read_back(client, names)
    except PracticeProtectUncertain:
        found = read_back(client, names)
    missing = [entity for entity in body["Entities"] if found[entity["Name"]] is None]
    if missing:
        client.call("invite_users", dict(body, Entities=missing), once=True)
        found.update(read_back(client, [entity["Name"] for entity in missing]))
    return found


def read_back(client, names):
    """``{name: the Redrock row of the user with that login name, or None}``: one query for the names."""
    rows = client.query(find_users_query(sorted(set(n.lower() for n in names))))
    return dict((name, pick_user(rows, name)) for name in names)


class Invitations:
    """The invitations of one module run, sent as one InviteUsers call per INVITE_CHUNK people and read back with one
    Redrock query per call.

    ``add`` is called while the people are planned, in their order; ``send`` by each person's apply (on any worker
    thread): the first person of a chunk to get there sends the whole chunk, the others of the chunk wait for it and
    take their own answer. People are chunked with others whose invitation options are the same. A call the service
    refuses is sent again for each person of the chunk it did not invite, alone, so that one bad entity fails only its
    own person; a call whose answer was lost is read back before anything is sent again (``invite``)."""

    def __init__(self, client, size=INVITE_CHUNK):
        self.client = client
        self.size = max(1, int(size))
        self.lock = threading.Lock()
        self.open = {}      # invitation options -> the chunk being filled
        self.chunk_of = {}  # lower-case login name -> its chunk

    def add(self, name, body):
        options = tuple(sorted((key, value) for key, value in body.items() if key != "Entities"))
        with self.lock:
            chunk = self.open.get(options)
            if chunk is None or chunk["sealed"] or len(chunk["entities"]) >= self.size:
                chunk = {"options": dict(options), "entities": [], "lock": threading.Lock(), "answers": None, "sealed": False}
                self.open[options] = chunk
            chunk["entities"].extend(body["Entities"])
            self.chunk_of[name.lower()] = chunk  # the person's name, which may be an e-mail address and not the entity's UPN
            return chunk

    def send(self, name, body):
        """The invited user's ID (its Redrock ID once it shows there, else the directory's Guid); raises the person's error."""
        with self.lock:
            chunk = self.chunk_of.get(name.lower())
        if chunk is None:  # not added while planning
            chunk = self.add(name, body)
        entity = body["Entities"][0]
        with self.lock:
            chunk["sealed"] = True  # nobody joins a chunk once it may be on its way
        with chunk["lock"]:
            if chunk["answers"] is None:
                try:
                    chunk["answers"] = self._send(chunk)
                except Exception as error:  # the read-back failed too: nobody of the chunk is sent again blindly
                    chunk["answers"] = dict((entity["Name"], error) for entity in chunk["entities"])
        answer = chunk["answers"][entity["Name"]]
        if isinstance(answer, Exception):
            raise answer
        return answer["ID"] if answer else entity["Guid"]

    def _send(self, chunk):
        body = dict(chunk["options"], Entities=list(chunk["entities"]))
        try:
            return invite(self.client, body)
        except PracticeProtectError as error:
            refused = error
        answers = read_back(self.client, [entity["Name"] for entity in chunk["entities"]])
        for entity in chunk["entities"]:
            if answers[entity["Name"]] is not None:
                continue  # the refused call invited this one all the same
            if len(chunk["entities"]) == 1:
                answers[entity["Name"]] = refused
                continue
            try:
                answers[entity["Name"]] = invite(self.client, dict(chunk["options"], Entities=[entity]))[entity["Name"]]
            except PracticeProtectError as error:
                answers[entity["Name"]] = error
        return answers


class PPUserService:
    """What pp_user reads, kept for the module run so a task for many people reads each thing once.

    The users with one Redrock query per 50 people (``lower(Username) IN (...)``, and ``lower(Email) IN (...)`` for
    source-directory people), or, for more than WHOLE_TABLE_AT people, the whole User table in pages; the login
    suffixes, the attribute columns and the directory services once, and the source-directory users to invite with one
    DirectoryServiceQuery per 50 people. Attribute values (GetColumns) are read per person: there is no documented call
    that reads several users' values.
    """

    def __init__(self, client):
        self.client = client
        self._by_key = {}          # lower-case login name or e-mail address -> {user ID: row}
        self._names = set()        # lower-case login names read
        self._emails = set()       # lower-case e-mail addresses read
        self._suffixes = None
        self._columns = None
        self._services = None
        self._directory = {}       # (lower-case directory choice or "", lower-case name) -> row or None
        self._whole = False        # the whole User table was read: every name is known

    def login_suffixes(self):
        if self._suffixes is None:
            self._suffixes = self.client.login_suffixes()
        return self._suffixes

    def columns(self):
        if self._columns is None:
            self._columns = self.client.columns()
        return self._columns

    def directory_services(self):
        if self._services is None:
            self._services = self.client.directory_services()
        return self._services

    def read(self, specs):
        """Read the Redrock rows of every spec's user not read yet (by login name; by e-mail too for source: directory)."""
        wanted = []
        for spec in specs:
            name = spec["name"].lower()
            by_email = spec["source"] == "directory"
            if name not in self._names or (by_email and name not in self._emails):
                wanted.append((name, by_email))
        wanted = sorted(set(wanted))
        if self._whole:
            return
        if len(wanted) > WHOLE_TABLE_AT:
            for row in self.client.users():
                self._keep(row)
            self._whole = True
            return
        for offset in range(0, len(wanted), QUERY_CHUNK):
            chunk = wanted[offset:offset + QUERY_CHUNK]
            names = sorted(set(entry[0] for entry in chunk))
            emails = sorted(set(name for name, by_email in chunk if by_email))
            for row in self.client.query(find_users_query(names, emails)):
                self._keep(row)
            self._names.update(names)
            self._emails.update(emails)

    def _keep(self, row):
        for key in (row.get("Username"), row.get("Email")):
            if key:
                self._by_key.setdefault(key.lower(), {})[row.get("ID")] = row

    def current(self, spec):
        """The Redrock User row of the spec's user, or None."""
        self.read([spec])
        return pick_user(list(self._by_key.get(spec["name"].lower(), {}).values()), spec["name"], by_email=spec["source"] == "directory")

    def _services_for(self, directory):
        return source_directories(self.directory_services(), directory)

    def read_directory(self, specs):
        """Look up the source-directory users of ``specs`` (not read yet), one query per directory choice and 50 people."""
        groups = {}
        for spec in specs:
            choice = (spec["directory"] or "").lower()
            if (choice, spec["name"].lower()) not in self._directory:
                groups.setdefault(choice, (spec["directory"], set()))[1].add(spec["name"].lower())
        for choice, (directory, names) in sorted(groups.items()):
            uuids = [d["directoryServiceUuid"] for d in self._services_for(directory)]
            names = sorted(names)
            for offset in range(0, len(names), QUERY_CHUNK):
                chunk = names[offset:offset + QUERY_CHUNK]
                result = self.client.call("directory_query", {"directoryServices": uuids, "user": directory_filter_many(chunk)}) or {}
                rows = [item.get("Row") or {} for item in (result.get("User") or {}).get("Results") or []]
                for name in chunk:
                    try:
                        self._directory[(choice, name)] = pick_directory_user(rows, name)
                    except v.ValidationError as exc:
                        self._directory[(choice, name)] = exc  # reported when that person is planned

    def directory_user(self, spec):
        """The DirectoryServiceQuery row of the source-directory user to invite, or None. ValidationError for an unknown
        O(directory) or a tenant without source directory."""
        self._services_for(spec["directory"])
        self.read_directory([spec])
        found = self._directory[((spec["directory"] or "").lower(), spec["name"].lower())]
        if isinstance(found, v.ValidationError):
            raise found
        return found

    def prefetch(self, specs):
        """Read everything the plans of ``specs`` need with few calls (see the class)."""
        present = [s for s in specs if s["state"] == "present"]
        if any(s["source"] == "cloud" for s in present):
            self.login_suffixes()
        self.read(specs)
        if any(s["attributes"] or s["proxy_addresses"] is not None for s in present):
            self.columns()
        inviting = [s for s in present if s["source"] == "directory" and self.current(s) is None]
        valid = []
        for spec in inviting:
            try:
                self._services_for(spec["directory"])
                valid.append(spec)
            except v.ValidationError:
                pass  # reported when that person is planned
        self.read_directory(valid)
