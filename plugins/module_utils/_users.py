# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Users: desired state from options, current state from list reads, a plan of calls, then apply.

Plain Python, reachable by unit tests without Ansible. ``build_spec`` validates and normalises one
person's options (no I/O); ``UserService.read`` reads everyone's current state with list queries;
``plan_user`` compares and returns the exact calls; ``UserService.apply`` sends them. Check mode stops
after the plan. One person and a list of people go through the same functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, odata_string, quote_key, read_users


def _phone(value, option, context):
    return v.normalize_phone(value, context.get("region"), option)


def _phones(value, option, context):
    return [v.normalize_phone(value, context.get("region"), option)] if value else []


def _region(value, option, context):
    return v.validate_region(value, option)


def _mails(value, option, context):
    return [v.validate_email(address, option) for address in value]


def _nickname(value, option, context):
    if set(value) & NICKNAME_BAD or not value.isascii():
        raise v.ValidationError("%s %r may hold only ASCII letters, digits and . - _ characters." % (option, value), field=option)
    return value


def _date(value, option, context):
    """A day as YYYY-MM-DD (a full timestamp is cut to its day), sent as Graph's DateTimeOffset at midnight UTC."""
    return v.validate_date(value, option) + "T00:00:00Z"


def _day(value):
    return value[:10] if value else value


def _same_phone(value):
    try:
        return v.normalize_phone(value) if value else value
    except v.ValidationError:
        return value


NICKNAME_BAD = set('@()\\[]";:<>, ')

# The Microsoft 365 user: one row per attribute (option, Graph property, check, comparison, Graph's length limit).
# ``role=True``: a joiner's ``person`` may carry it (the onboard_user role passes it to m365_user as it is).
USER = _model.Resource("Microsoft 365 user", [
    _model.Field("display_name", "displayName", max_length=256, role=True),
    _model.Field("given_name", "givenName", max_length=64, role=True),
    _model.Field("surname", "surname", max_length=64, role=True),
    _model.Field("mail_nickname", "mailNickname", check=_nickname, max_length=64),
    _model.Field("job_title", "jobTitle", max_length=128, role=True),
    _model.Field("department", "department", max_length=64, role=True),
    _model.Field("company_name", "companyName", max_length=64),
    _model.Field("office_location", "officeLocation", max_length=128),
    _model.Field("mobile_phone", "mobilePhone", check=_phone, compare=_same_phone, max_length=64, role=True),
    _model.Field("business_phone", "businessPhones", check=_phones, compare=lambda phones: [_same_phone(p) for p in phones or []]),
    _model.Field("usage_location", "usageLocation", check=_region, compare=lambda code: code.upper() if code else code, role=True),
    _model.Field("other_mails", "otherMails", type="list", elements="str", check=_mails, compare=lambda mails: [m.lower() for m in mails or []]),
    _model.Field("employee_id", "employeeId", max_length=16),
    _model.Field("employee_type", "employeeType", max_length=64, role=True),
    _model.Field("employee_hire_date", "employeeHireDate", check=_date, compare=_day, role=True),
    _model.Field("account_enabled", "accountEnabled", type="bool"),
])
SELECT = ",".join(["id", "userPrincipalName", "mail", "assignedLicenses", "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime"]
                  + [f.service for f in USER.fields])
MANAGER_EXPAND = "manager($select=id,userPrincipalName)"
DELETED_LIST_FROM = 4  # from this many missing people on, list every deleted user once instead of one query each
MAX_REMOVALS = 10


def build_spec(params):
    """Validate and normalise one person's options. Raises ValidationError; makes no call."""
    upn, domain = v.validate_upn(params["user"], "user")
    phone_region = params.get("phone_region")
    region = v.validate_region(phone_region, "phone_region") if phone_region else None
    props = USER.properties(params, {"region": region})
    licences = _model.ListChange(params.get("licenses"), "licenses", key=lambda sku: sku.strip().lower())
    if params.get("password") is not None:
        v.check_password(params["password"], upn)
    scramble = bool(params.get("scramble_password"))
    if scramble and params.get("password") is not None:
        raise v.ValidationError("scramble_password sets a random password nobody knows; leave password out, or scramble_password false to set "
                                "that password.", field="scramble_password")
    changed_since = params.get("password_changed_since")
    if changed_since is not None and v.parse_time(changed_since) is None:
        raise v.ValidationError("password_changed_since %r is not a time with its zone; write it like 2026-12-07T10:00:00+00:00." % (changed_since,),
                                field="password_changed_since")
    manager = params.get("manager")
    if manager and not v.is_guid(manager):
        manager = v.validate_upn(manager, "manager")[0]
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)  # a bad value fails before any call
    return {
        "upn": upn, "domain": domain, "props": props, "licenses": licences, "max_removals": params.get("max_removals"),
        "manager": manager,
        "password": params.get("password"), "update_password": params.get("update_password") or "on_create",
        "force_change_password": params.get("force_change_password", True),
        "state": params.get("state") or "present", "restore_deleted": params.get("restore_deleted", True),
        "revoke_sessions": bool(params.get("revoke_sessions")),
        "scramble": scramble, "changed_since": changed_since,
        "extensions": check_extensions(params.get("extensions")),
        "allow_mail_loss": bool(params.get("allow_mail_loss")),
    }


EXTENSION_TYPE = "microsoft.graph.openTypeExtension"
EXTENSION_MAX = 2000  # Graph keeps at most 2 KB per open extension


def check_extensions(extensions):
    """``{name: properties or None}`` checked: reverse-DNS names, flat properties, within Graph's 2 KB per extension."""
    if extensions is None:
        return None
    out = {}
    for name, props in extensions.items():
        if not isinstance(name, str) or "." not in name or not name.strip() or " " in name:
            raise v.ValidationError("extensions: %r is not an extension name; use a reverse-DNS name such as com.example.onboarding." % (name,),
                                    field="extensions")
        if props is not None and not isinstance(props, dict):
            raise v.ValidationError("extensions.%s must be a dictionary of properties, or null to remove the extension." % name,
                                    field="extensions")
        if props is not None and len(json.dumps(props)) > EXTENSION_MAX:
            raise v.ValidationError("extensions.%s holds %d characters; Microsoft Graph keeps at most 2 KB per open extension." % (
                name, len(json.dumps(props))), field="extensions")
        out[name] = dict(props) if props is not None else None
    return out


def extension_properties(extension):
    """An open extension as Graph returns it, without its own keys: the custom properties."""
    return dict((k, val) for k, val in (extension or {}).items() if k not in ("id", "extensionName") and not k.startswith("@odata"))


def plan_extensions(spec, current_extensions, target_id):
    """Calls that make the user's open extensions those of ``spec["extensions"]``; ``current_extensions``: name -> properties."""
    calls = []
    for name, wanted in sorted((spec.get("extensions") or {}).items()):
        now = (current_extensions or {}).get(name)
        path = "users/%s/extensions" % (target_id or "{id}")
        if wanted is None and now is not None:
            calls.append({"op": "extension", "method": "DELETE", "path": "%s/%s" % (path, name), "fields": [name]})
        elif wanted is not None and now is None:
            body = dict(wanted, **{"@odata.type": EXTENSION_TYPE, "extensionName": name})
            calls.append({"op": "extension", "method": "POST", "path": path, "body": body, "fields": [name]})
        elif wanted is not None and now != wanted:
            calls.append({"op": "extension", "method": "PATCH", "path": "%s/%s" % (path, name), "body": dict(wanted, **{"@odata.type": EXTENSION_TYPE}),
                          "fields": [name]})
    return calls


def create_defaults(spec):
    """Properties Graph requires on create, derived when the options leave them out."""
    props = dict(spec["props"])
    local = spec["upn"].split("@")[0]
    if "displayName" not in props:
        names = [props.get("givenName"), props.get("surname")]
        props["displayName"] = " ".join(n for n in names if n) or local
    if "mailNickname" not in props:
        props["mailNickname"] = "".join(c for c in local if c not in NICKNAME_BAD) or "user"
    props.setdefault("accountEnabled", True)
    return props


def sku_names(assigned, skus_by_id):
    names = []
    for lic in assigned or []:
        sku = skus_by_id.get((lic.get("skuId") or "").lower())
        names.append(sku["skuPartNumber"] if sku else lic.get("skuId"))
    return sorted(names)


def view(user, skus_by_id, manager=None):
    """The before/after shape shown in diffs and returned as ``user``: Graph names, no secrets."""
    if not user:
        return {}
    out = {"id": user.get("id"), "userPrincipalName": user.get("userPrincipalName")}
    out.update(USER.view(user))
    out["licenses"] = sku_names(user.get("assignedLicenses"), skus_by_id)
    if manager is not None:
        out["manager"] = manager
    return out


def plan_user(spec, current, deleted, skus, manager_now=None, manager_target=None, graph_url="https://graph.microsoft.com", extensions_now=None):
    """Compare one person's spec with the tenant and return the plan.

    ``current`` is the active user (or None), ``deleted`` the soft-deleted user with the same UPN
    (or None). ``manager_target`` is ``{"id", "userPrincipalName"}`` of the wanted manager and
    ``manager_now`` the current one. Returns a dict with ``action``, ``calls`` (each
    ``{op, method, path, body, fields}``), ``before``, ``after`` and licence changes. Raises
    ValidationError for problems only visible against the tenant (no free seat, usage location).
    """
    skus_by_id = dict((s["skuId"].lower(), s) for s in skus)
    plan = {"upn": spec["upn"], "action": "none", "calls": [], "licenses_added": [], "licenses_removed": [], "password_set": False,
            "sessions_revoked": False, "password_scrambled": False}
    if spec["state"] == "absent":
        if current:
            plan["action"] = "delete"
            plan["calls"].append({"op": "delete", "method": "DELETE", "path": "users/%s" % current["id"]})
        plan["before"] = view(current, skus_by_id)
        plan["after"] = {}
        return plan

    base = current
    if current is None and deleted is not None and spec["restore_deleted"]:
        plan["action"] = "restore"
        plan["calls"].append({"op": "restore", "method": "POST", "path": "directory/deletedItems/%s/restore" % deleted["id"]})
        base = dict(deleted, userPrincipalName=spec["upn"])
    target_id = base["id"] if base else None
    after = dict(base or {})
    if base is None:
        plan["action"] = "create"
        props = create_defaults(spec)
        password = spec["password"] or v.generate_password()
        body = dict(props, userPrincipalName=spec["upn"],
                    passwordProfile={"password": password, "forceChangePasswordNextSignIn": bool(spec["force_change_password"])})
        plan["calls"].append({"op": "create", "method": "POST", "path": "users", "body": body, "fields": sorted(body)})
        plan["password"] = password
        plan["password_generated"] = spec["password"] is None
        plan["password_set"] = True
        after.update(props)
        after["userPrincipalName"] = spec["upn"]
        after["assignedLicenses"] = []
    # The open extensions come right after a create or restore: a marker written with the account is never missing
    # from an account this module created (the onboarding's "password not delivered yet").
    extension_calls = plan_extensions(spec, extensions_now if base is not None else {}, target_id)
    if base is None:
        plan["calls"].extend(extension_calls)
    else:
        changes = USER.changes(spec["props"], base)
        if spec["password"] is not None and spec["update_password"] == "always":
            changes["passwordProfile"] = {"password": spec["password"], "forceChangePasswordNextSignIn": bool(spec["force_change_password"])}
            plan["password_set"] = True
        elif spec.get("scramble") and current is not None and needs_scrambling(current, spec.get("changed_since")):
            # A random password generated here, sent once and never kept in any result (public_calls shows field names only).
            changes["passwordProfile"] = {"password": v.generate_password(32), "forceChangePasswordNextSignIn": True}
            plan["password_set"] = plan["password_scrambled"] = True
        plan["calls"].extend(extension_calls)
        if changes:
            plan["calls"].append({"op": "update", "method": "PATCH", "path": "users/%s" % target_id, "body": changes, "fields": sorted(changes)})
        if (changes or extension_calls) and plan["action"] == "none":
            plan["action"] = "update"
        after.update(dict((k, val) for k, val in changes.items() if k != "passwordProfile"))
    if spec.get("extensions") is not None:
        merged = dict((extensions_now or {}) if base is not None else {})
        for name, wanted in spec["extensions"].items():
            if wanted is None:
                merged.pop(name, None)
            else:
                merged[name] = wanted
        after["extensions"] = merged

    # Sessions: revoked after sign-in is blocked, once (see sessions_need_revoking), and after a password this plan sets.
    if spec["revoke_sessions"] and current is not None and (sessions_need_revoking(current, scrambled=scramble_done(spec, current))
                                                            or plan["password_set"]):
        plan["calls"].append({"op": "revoke", "method": "POST", "path": "users/%s/revokeSignInSessions" % target_id, "fields": []})
        plan["sessions_revoked"] = True
        if plan["action"] == "none":
            plan["action"] = "update"

    # Licences: add, remove or set (as SKU part numbers or skuIds), removals within max_removals.
    held = set((lic.get("skuId") or "").lower() for lic in (after.get("assignedLicenses") or []))
    change = spec["licenses"]
    add = [s for s in v.resolve_skus(change.set if change.set is not None else change.add, skus) if s["skuId"].lower() not in held]
    if change.set is not None:
        keep = set(s["skuId"].lower() for s in v.resolve_skus(change.set, skus))
        remove = sorted(h for h in held if h not in keep)
    else:
        unwanted = set(s["skuId"].lower() for s in v.resolve_skus(change.remove, skus))
        remove = sorted(h for h in held if h in unwanted)
    if remove:
        _model.check_removals(sku_names([{"skuId": r} for r in remove], skus_by_id), spec["max_removals"], len(held), MAX_REMOVALS, "licences",
                              spec["upn"])
    if add:
        usage = after.get("usageLocation")
        if not usage:
            raise v.ValidationError(
                "usage_location is required to assign licences to %s (Microsoft 365 refuses licences without it); "
                "set usage_location, for example AU." % spec["upn"], field="usage_location")
        for sku in add:
            if v.free_seats(sku) < 1:
                raise v.ValidationError(v.seat_error(sku, skus), field="licenses")
    if add or remove:
        body = {"addLicenses": [{"skuId": s["skuId"], "disabledPlans": []} for s in add], "removeLicenses": remove}
        plan["calls"].append({"op": "licenses", "method": "POST", "path": "users/%s/assignLicense" % (target_id or "{id}"), "body": body,
                              "fields": ["addLicenses", "removeLicenses"]})
        plan["licenses_added"] = [s["skuPartNumber"] for s in add]
        plan["licenses_removed"] = sku_names([{"skuId": r} for r in remove], skus_by_id)
        kept = [lic for lic in after.get("assignedLicenses") or [] if (lic.get("skuId") or "").lower() not in remove]
        after["assignedLicenses"] = kept + [{"skuId": s["skuId"], "disabledPlans": []} for s in add]
        if plan["action"] == "none":
            plan["action"] = "update"

    manager_view = None
    if manager_target is not None:
        manager_view = manager_target["userPrincipalName"]
        if not manager_now or manager_now.get("id") != manager_target["id"]:
            body = {"@odata.id": "%s/v1.0/users/%s" % (graph_url.rstrip("/"), manager_target["id"])}
            plan["calls"].append({"op": "manager", "method": "PUT", "path": "users/%s/manager/$ref" % (target_id or "{id}"), "body": body,
                                  "fields": ["manager"]})
            if plan["action"] == "none":
                plan["action"] = "update"
    before_manager = (manager_now or {}).get("userPrincipalName") if manager_target is not None else None
    plan["before"] = view(current, skus_by_id, before_manager if current else None)
    plan["after"] = view(after, skus_by_id, manager_view)
    if spec.get("extensions") is not None:
        if current:
            plan["before"]["extensions"] = dict(extensions_now or {})
        plan["after"]["extensions"] = after["extensions"]
    # The last licence taken from a user with a mailbox: the module asks Exchange for the mailbox's type (mail_at_risk).
    plan["mail_at_risk"] = bool(current and plan["licenses_removed"] and not after.get("assignedLicenses") and current.get("mail"))
    return plan


def _instant(value):
    """An ISO 8601 time from Graph as a comparable tuple (fractions and zone suffix ignored: Graph answers UTC)."""
    if not value:
        return None
    text = str(value).replace("T", " ").rstrip("Z").split("+", 1)[0].split(".", 1)[0]
    return tuple(int(part) for part in text.replace("-", " ").replace(":", " ").split())


def scramble_done(spec, user):
    """Whether this offboarding's scramble (``password_changed_since``) is what the user's last password change was."""
    return bool(spec.get("scramble") and spec.get("changed_since") and user is not None and not needs_scrambling(user, spec["changed_since"]))


def sessions_need_revoking(user, scrambled=False):
    """Whether the user's sign-in sessions must be revoked.

    While the account is enabled, sessions can always be issued, so they are revoked. Once it is
    blocked, no new session can start: the sessions are safe when they were revoked after the last
    password event (Entra also revokes sessions on a password change, and sets both times then). So a
    re-run after a blocked-but-not-yet-revoked stop still revokes, and a finished offboarding does not
    revoke again. ``scrambled``: the last password change was this offboarding's scramble, whose plan revoked the
    sessions right after it; both times may then show the same second, which counts as revoked.
    """
    if user.get("accountEnabled", True):
        return True
    valid_from = _instant(user.get("signInSessionsValidFromDateTime"))
    password_changed = _instant(user.get("lastPasswordChangeDateTime"))
    if valid_from is None:
        return True
    if scrambled:
        # The scramble's plan revoked right after it: Graph's times are whole seconds, so both can show the same second.
        return password_changed is not None and valid_from < password_changed
    return password_changed is not None and valid_from <= password_changed


def needs_scrambling(user, changed_since):
    """Whether ``scramble_password`` still has to set a password: always without ``changed_since``; with it, unless the
    password was last changed at or after that time (a scramble of an earlier run, or a change since)."""
    if not changed_since:
        return True
    changed = v.parse_time(user.get("lastPasswordChangeDateTime"), assume_utc=True)
    return changed is None or changed < v.parse_time(changed_since)


def public_calls(plan):
    """The plan as shown to people: method, path and field names, never values (passwords)."""
    return [{"op": c["op"], "method": c["method"], "path": "/" + c["path"], "fields": c.get("fields", [])} for c in plan["calls"]]


class UserService:
    """Reads and writes users through a ``GraphClient``."""

    def __init__(self, graph):
        self.graph = graph
        self._skus = None
        self._domains = None
        self._users = {}    # lower-case UPN -> user, or None when read and not found
        self._deleted = {}  # lower-case UPN -> latest soft-deleted user with it, or None
        self._extensions = {}  # lower-case UPN -> {extension name: properties}

    def domains(self):
        if self._domains is None:
            self._domains = self.graph.list("domains")
        return self._domains

    def skus(self):
        if self._skus is None:
            self._skus = self.graph.list("subscribedSkus")
        return self._skus

    def read(self, upns, with_manager=False):
        """Active users by UPN, keyed by lower-case UPN, read with list queries (``in`` chunks of 15, or
        the whole directory in pages of 999 for many people: ``_graph.read_users``).

        Users read once are kept, so a bulk run reads everyone in a few list calls (``prefetch``) and
        each person's plan then costs nothing. ``with_manager`` expands each user's manager in the same
        call (the key ``manager`` then holds ``{id, userPrincipalName}`` or None).
        """
        upns = sorted(set(u.lower() for u in upns))
        missing = [u for u in upns if u not in self._users or self._lacks_manager(u, with_manager)]
        for upn in missing:
            self._users[upn] = None

        def keep(user):  # everyone read: after a list of the whole directory, the others cost no call either
            if with_manager:
                manager = user.get("manager")
                user["manager"] = {"id": manager["id"], "userPrincipalName": manager.get("userPrincipalName")} if manager else None
            self._users[user["userPrincipalName"].lower()] = user
        read_users(self.graph, missing, SELECT.split(","), expand=MANAGER_EXPAND if with_manager else None, every=keep)
        return dict((u, self._users[u]) for u in upns if self._users.get(u) is not None)

    def read_extensions(self, upns, names):
        """Open extensions of users by UPN: lower-case UPN -> {name: properties} (only ``names``), with list queries that
        expand the extensions (``in`` chunks of 15, never the whole directory: Graph pages at most 100 users when it expands)."""
        upns = sorted(set(u.lower() for u in upns))
        missing = [u for u in upns if u not in self._extensions]
        names = set(names)
        for upn in missing:
            self._extensions[upn] = {}
        for user in read_users(self.graph, missing, ["id", "userPrincipalName"], expand="extensions", directory_from=None).values():
            found = dict((e.get("extensionName") or e.get("id"), extension_properties(e)) for e in user.get("extensions") or [])
            self._extensions[user["userPrincipalName"].lower()] = dict((n, p) for n, p in found.items() if n in names)
        return dict((u, self._extensions.get(u) or {}) for u in upns)

    def _lacks_manager(self, upn, with_manager):
        user = self._users.get(upn)
        return bool(with_manager and user is not None and "manager" not in user)

    def read_deleted(self, upns):
        """Soft-deleted users whose original UPN is one of ``upns``, the latest deleted of each.

        Entra renames a deleted user's UPN to ``<id without dashes><upn>``. For a few people, one
        ``endswith`` query each (an advanced query: ConsistencyLevel eventual and $count=true); for
        more, one paged list of every deleted user, matched here.
        """
        upns = sorted(set(u.lower() for u in upns))
        missing = [u for u in upns if u not in self._deleted]
        if len(missing) >= DELETED_LIST_FROM:
            items = self.graph.list("directory/deletedItems/microsoft.graph.user", params={"$select": SELECT + ",deletedDateTime", "$top": "999"})
            self._remember_deleted(missing, items)
        else:
            for upn in missing:
                items = self.graph.list("directory/deletedItems/microsoft.graph.user",
                                        params={"$filter": "endswith(userPrincipalName,%s)" % odata_string(upn), "$count": "true",
                                                "$select": SELECT + ",deletedDateTime"},
                                        headers={"ConsistencyLevel": "eventual"})
                self._remember_deleted([upn], items)
        return dict((u, self._deleted[u]) for u in upns if self._deleted.get(u) is not None)

    def _remember_deleted(self, upns, items):
        for upn in upns:
            matches = [i for i in items if (i.get("userPrincipalName") or "").lower() == (i["id"].replace("-", "") + upn)]
            self._deleted[upn] = sorted(matches, key=lambda i: i.get("deletedDateTime") or "")[-1] if matches else None

    def prefetch(self, specs):
        """Read everything the plans of ``specs`` need with list calls: the people (with their managers
        when any spec names one), the managers, the deleted users to restore, the domains and SKUs."""
        present = [s for s in specs if s["state"] == "present"]
        with_manager = any(s["manager"] for s in present)
        managers = [s["manager"] for s in present if s["manager"] and not v.is_guid(s["manager"])]
        found = self.read([s["upn"] for s in specs] + managers, with_manager=with_manager)
        self.read_deleted([s["upn"] for s in present if s["restore_deleted"] and s["upn"].lower() not in found])
        if present:
            self.domains()
            self.skus()
        extended = [s["upn"] for s in present if s.get("extensions") is not None and s["upn"].lower() in found]
        if extended:
            self.read_extensions(extended, set(n for s in present for n in (s.get("extensions") or {})))

    def resolve_user(self, key):
        """``{"id", "userPrincipalName"}`` of a user given by UPN or id, or None."""
        if not v.is_guid(key):
            user = self.read([key]).get(key.lower())
            return {"id": user["id"], "userPrincipalName": user["userPrincipalName"]} if user else None
        return self.graph.get_or_none("users/%s" % quote_key(key), params={"$select": "id,userPrincipalName"})

    def manager_of(self, user):
        """The current manager of ``user`` (a user read by ``read``), from the expanded read when there was one."""
        if "manager" in user:
            return user["manager"]
        return self.graph.get_or_none("users/%s/manager" % user["id"], params={"$select": "id,userPrincipalName"})

    def forget(self, upn):
        """Drop a cached user after writing to it, so a later read sees the change."""
        self._users.pop(upn.lower(), None)
        self._deleted.pop(upn.lower(), None)
        self._extensions.pop(upn.lower(), None)

    def apply_or_adopt(self, plan, replan):
        """Apply ``plan``; when its create finds the user there already (a retried create, or replication lag that hid
        the user from the read), read the user back and apply ``replan(user)`` instead, so nothing is created twice.
        Returns ``(user id, the plan applied)``; the plan applied keeps the first plan's action."""
        try:
            return self.apply(plan), plan
        except UserAppeared as appeared:
            found = self.graph.get("users/%s" % appeared.user_id, params={"$select": SELECT}, lagging=True)
            again = replan(found)
            again["action"] = plan["action"]
            return (self.apply(again) if again["calls"] else found["id"]), again

    def apply(self, plan):
        """Send the plan's calls in order; returns the id of the user."""
        user_id = None
        lagging = False
        for call in plan["calls"]:
            path = call["path"]
            if user_id:
                path = path.replace("{id}", user_id)
            if call["op"] == "create":
                try:
                    created = self.graph.request("POST", path, body=call["body"])
                except GraphError as exc:
                    # A retried POST that had reached the service, or a user that the plan's read
                    # did not yet see (replication lag): the user exists, so adopt it.
                    if exc.status == 400 and "ObjectConflict" in exc.detail_codes():
                        existing = self.graph.get("users/%s" % quote_key(plan["upn"]), params={"$select": "id"}, lagging=True)
                        raise UserAppeared(existing["id"])
                    raise
                user_id = created["id"]
                lagging = True
                continue
            if call["op"] == "restore":
                restored = self.graph.request("POST", path)
                user_id = restored["id"]
                lagging = True
                continue
            if call["op"] == "revoke":
                self.graph.request("POST", path, lagging=lagging)
                continue
            if call["op"] == "extension":
                try:
                    self.graph.request(call["method"], path, body=call.get("body"), lagging=lagging)
                except GraphError as exc:
                    if call["method"] == "POST" and exc.status in (400, 409):
                        # A retried POST whose first attempt had created it: make it what was asked.
                        name = call["body"]["extensionName"]
                        body = dict((k, val) for k, val in call["body"].items() if k != "extensionName")
                        self.graph.request("PATCH", "%s/%s" % (path, name), body=body, lagging=lagging)
                    elif not (call["method"] == "DELETE" and exc.status == 404):
                        raise
                continue
            if call["op"] == "delete":
                try:
                    self.graph.request("DELETE", path)
                except GraphError as exc:
                    if exc.status != 404:  # already gone (a retried DELETE that had succeeded)
                        raise
                continue
            self.graph.request(call["method"], path, body=call.get("body"), lagging=lagging)
            user_id = user_id or path.split("/")[1]
        return user_id


class UserAppeared(Exception):
    """Raised by apply when the user to create already exists; the caller re-plans as an update."""

    def __init__(self, user_id):
        super(UserAppeared, self).__init__(user_id)
        self.user_id = user_id
