# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Practice Protect role membership (pp_role_member): resolve names, plan, apply.

Plain Python, reachable by unit tests without Ansible. Roles are given by name and resolved to their ids with the
Redrock ``Role`` table; members by login name or e-mail with the ``User`` table; unknown names fail with the close
matches (or, with ``skip_unknown_members``, are left out and reported). ``copy_from`` reads a similar user's roles
(GetUsersRolesAndAdministrativeRights, by role name) and never touches Everybody, which holds every user implicitly
and cannot be changed through the role API.

An exclusive run is refused before any write when it would remove more user members than the removal limit:
``max_removals`` (a count), ``max_removals_percent`` (a share of the role's user members now, rounded down, at least
one), or the smaller of the two when both are given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_users import close_matches

EVERYBODY = "Everybody"
DEFAULT_MAX_REMOVALS = 5


class RemovalRefused(v.ValidationError):
    """An exclusive run would remove more members than the removal limit; nothing was written."""

    def __init__(self, message, role, limit, names):
        super(RemovalRefused, self).__init__(message, field="max_removals")
        self.role = role
        self.limit = limit
        self.names = names


def build_spec(params):
    role = params.get("role")
    copy_from = params.get("copy_from")
    members = [m.strip() for m in params.get("members") or [] if m and m.strip()]
    state = params.get("state") or "present"
    exclusive = bool(params.get("exclusive"))
    all_roles = bool(params.get("all_roles"))
    if all_roles and (role or copy_from or state != "absent"):
        raise v.ValidationError("all_roles removes the members from every role they hold; use it with state: absent and without role or copy_from.",
                                field="all_roles")
    if not role and not copy_from and not all_roles:
        raise v.ValidationError("Give role (a role name) or copy_from (a user whose roles to copy).", field="role")
    if copy_from and state == "absent":
        raise v.ValidationError("copy_from only adds roles; it cannot be used with state: absent.", field="copy_from")
    if exclusive and not role:
        raise v.ValidationError("exclusive applies to the members of role; give role.", field="exclusive")
    if exclusive and state == "absent":
        raise v.ValidationError("exclusive makes members the whole membership of role; it cannot be used with state: absent.", field="exclusive")
    if not members and not exclusive:
        raise v.ValidationError("members is empty; list the users by login name or e-mail address.", field="members")
    max_removals = params.get("max_removals")
    if max_removals is not None and max_removals < 0:
        raise v.ValidationError("max_removals must be 0 or more.", field="max_removals")
    percent = params.get("max_removals_percent")
    if percent is not None and not 0 <= percent <= 100:
        raise v.ValidationError("max_removals_percent must be between 0 and 100 (a share of the role's user members); got %d." % percent,
                                field="max_removals_percent")
    if max_removals is None and percent is None:
        max_removals = DEFAULT_MAX_REMOVALS
    return {"role": role, "copy_from": copy_from, "members": members, "state": state, "exclusive": exclusive,
            "max_removals": max_removals, "max_removals_percent": percent, "all_roles": all_roles,
            "skip_unknown_members": bool(params.get("skip_unknown_members")),
            "copy_exclude": [r.strip() for r in params.get("copy_exclude") or [] if r and r.strip()]}


def resolve_role(name, roles, field="role"):
    """The Role row named ``name`` (exact, else the only case-insensitive match); ValidationError with close matches."""
    exact = [r for r in roles if r.get("Name") == name]
    if not exact:
        exact = [r for r in roles if (r.get("Name") or "").lower() == (name or "").lower()]
    if len(exact) == 1:
        return exact[0]
    names = [r.get("Name") for r in roles]
    matches = close_matches(name, names)
    raise v.ValidationError("Unknown role %r.%s" % (name, (" Close matches: %s." % ", ".join(matches)) if matches else
                                                    " Roles: %s." % ", ".join(sorted(n for n in names if n))), field=field)


def resolve_users(keys, users, field="members", missing_ok=False, skipped=None):
    """User rows for login names or e-mail addresses (case-insensitive); one error naming every unknown key.

    ``missing_ok`` drops unknown keys instead (removing a user who is not there is already done, and
    ``skip_unknown_members`` asks for it); the dropped keys are appended to ``skipped`` when it is a list."""
    by_name = {}
    by_mail = {}
    for user in users:
        if user.get("Username"):
            by_name.setdefault(user["Username"].lower(), user)
        if user.get("Email"):
            by_mail.setdefault(user["Email"].lower(), []).append(user)
    found, unknown, ambiguous = [], [], []
    for key in keys:
        user = by_name.get(key.lower())
        if user is None:
            candidates = by_mail.get(key.lower(), [])
            if len(candidates) > 1:
                ambiguous.append(key)
                continue
            user = candidates[0] if candidates else None
        if user is None:
            unknown.append(key)
        elif user not in found:
            found.append(user)
    if ambiguous:
        raise v.ValidationError("%s %s is the e-mail address of more than one user; give the login name instead." % (
            field, ", ".join(ambiguous)), field=field)
    if unknown and missing_ok:
        if skipped is not None:
            for key in unknown:
                if key.lower() not in [k.lower() for k in skipped]:
                    skipped.append(key)
    elif unknown:
        pool = list(by_name) + list(by_mail)
        parts = []
        for key in unknown:
            matches = close_matches(key, pool, cutoff=0.85)  # addresses share their domain: only near misses
            parts.append("%s (close matches: %s)" % (key, ", ".join(matches)) if matches else "%s (no close match)" % key)
        raise v.ValidationError("Unknown %s: no Practice Protect user has the login name or e-mail %s. Invite or create the user first "
                                "(pp_user)." % ("user" if len(unknown) == 1 else "users", "; ".join(parts)), field=field)
    return found


def copyable_roles(held, provisioning_roles, excluded=()):
    """The roles ``copy_from`` gives a joiner, and those it leaves out with the reason.

    ``held``: the template user's roles (``{"Name", "AdministrativeRights"}``). Never copied: Everybody (implicit), a role
    whose members an application provisions (outbound provisioning would then create or change the joiner's account in
    that application), a role that carries administrative rights, and ``excluded``. Name such a role explicitly
    (``role``) to give it. Returns ``(names, {name: reason})``."""
    provisioning = set(r.lower() for r in provisioning_roles)
    excluded = set(r.lower() for r in excluded)
    names, skipped = [], {}
    for role in held:
        name = role.get("Name")
        if not name or name == EVERYBODY or name in names:
            continue
        if name.lower() in provisioning:
            skipped[name] = "drives outbound provisioning"
        elif role.get("AdministrativeRights"):
            skipped[name] = "administrative (%s)" % ", ".join(role["AdministrativeRights"])
        elif name.lower() in excluded:
            skipped[name] = "in copy_exclude"
        else:
            names.append(name)
    return names, skipped


def provisioning_role_names(applications):
    """Roles that drive an application's outbound provisioning: Practice Protect maps a provisioning application (the
    Office 365 app) to the role of the same name."""
    return [app.get("Name") for app in applications if app.get("Name") and (app.get("ProvConfigured") or app.get("ProvSettingEnabled"))]


def target_roles(spec, roles, template_role_names=None):
    """The Role rows the members should be in (present) or out of (absent)."""
    targets = []
    if spec["role"]:
        role = resolve_role(spec["role"], roles)
        if role.get("Name") == EVERYBODY:
            raise v.ValidationError("Everybody holds every user implicitly and cannot be changed; choose another role.", field="role")
        targets.append(role)
    for name in template_role_names or []:
        if not name or name == EVERYBODY:
            continue  # never touch Everybody
        role = resolve_role(name, roles, field="copy_from")
        if role not in targets:
            targets.append(role)
    return targets


def plan_membership(spec, targets, current_members, member_users, users_by_id):
    """Plan per role. ``current_members``: role id -> member rows (Guid, Name, Type) of GetRoleMembers.

    Returns ``{calls, added: {role: [names]}, removed: {...}, before: {role: [names]}, after: {...}}``. Raises
    ValidationError when exclusive would remove more than ``max_removals`` members (before any write).
    """
    plan = {"calls": [], "added": {}, "removed": {}, "before": {}, "after": {}}
    wanted_ids = [u["ID"] for u in member_users]
    removals = []
    for role in targets:
        rows = current_members.get(role["ID"], [])
        users_now = [r["Guid"] for r in rows if (r.get("Type") or "User") == "User"]
        add, delete = [], []
        if spec["state"] == "present":
            add = [uid for uid in wanted_ids if uid not in users_now]
            if spec["exclusive"] and role["Name"] == (targets[0]["Name"] if spec["role"] else None):
                delete = [uid for uid in users_now if uid not in wanted_ids]
        else:
            delete = [uid for uid in wanted_ids if uid in users_now]

        def name_of(uid):
            user = users_by_id.get(uid)
            if user:
                return user["Username"]
            return next((r.get("Name") for r in rows if r["Guid"] == uid), uid)

        names_now = sorted(name_of(uid) for uid in users_now)
        after_ids = [uid for uid in users_now if uid not in delete] + add
        plan["before"][role["Name"]] = names_now
        plan["after"][role["Name"]] = sorted(name_of(uid) for uid in after_ids)
        if add:
            plan["added"][role["Name"]] = sorted(name_of(uid) for uid in add)
        if delete:
            plan["removed"][role["Name"]] = sorted(name_of(uid) for uid in delete)
            removals.extend((role["Name"], name_of(uid)) for uid in delete)
        if add or delete:
            users = {}
            if add:
                users["Add"] = add
            if delete:
                users["Delete"] = delete
            plan["calls"].append({"op": "members", "endpoint": "update_role", "role": role["Name"], "body": {"Name": role["ID"], "Users": users},
                                  "fields": ["Name", "Users." + "/".join(sorted(users))]})
    plan["removal_limit"] = None
    if spec["exclusive"] and spec["role"]:
        role = targets[0]
        users_now = [r for r in current_members.get(role["ID"], []) if (r.get("Type") or "User") == "User"]
        limit, how, option = removal_limit(spec, len(users_now))
        plan["removal_limit"] = limit
        if len(removals) > limit:
            names = sorted(removal[1] for removal in removals)
            raise RemovalRefused(
                "Refusing to remove %d members from role %s: more than %s. Those not listed in members would be removed: "
                "%s. Add them to members, or raise %s if this is intended." % (len(removals), role["Name"], how, ", ".join(names), option),
                role["Name"], limit, names)
    return plan


def removal_limit(spec, user_members):
    """``(limit, how it was computed, option to raise)`` of an exclusive run on a role holding ``user_members`` users.

    ``max_removals_percent`` is a share of the role's user members now, rounded down and at least one, so that one
    leaver can always go; with ``max_removals`` as well, the smaller limit wins."""
    count = spec.get("max_removals")
    percent = spec.get("max_removals_percent")
    if percent is None:
        return count, "max_removals (%d)" % count, "max_removals"
    share = max(1, percent * user_members // 100)
    share_how = "%d%% of the role's %d user members, rounded down, at least 1" % (percent, user_members)
    if count is not None and count < share:
        return count, "max_removals (%d; max_removals_percent gives %d: %s)" % (count, share, share_how), "max_removals"
    if count is not None:
        return share, "the limit of %d (max_removals_percent: %s; max_removals is %d)" % (share, share_how, count), "max_removals_percent"
    return share, "the limit of %d (max_removals_percent: %s)" % (share, share_how), "max_removals_percent"


def public_calls(plan):
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import ENDPOINTS
    return [{"op": c["op"], "method": "POST", "path": ENDPOINTS[c["endpoint"]], "role": c["role"], "fields": c["fields"]} for c in plan["calls"]]


def apply(client, plan):
    for call in plan["calls"]:
        client.call(call["endpoint"], call["body"])
