# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Practice Protect role membership (pp_role_member): resolve names, plan, apply.

Plain Python, reachable by unit tests without Ansible. Roles are given by name and resolved to their ids with the
Redrock ``Role`` table; members by login name or e-mail with the ``User`` table; unknown names fail with the close
matches. ``copy_from`` reads a similar user's roles (GetUsersRolesAndAdministrativeRights, by role name) and never
touches Everybody, which holds every user implicitly and cannot be changed through the role API.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_users import close_matches

EVERYBODY = "Everybody"


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
    return {"role": role, "copy_from": copy_from, "members": members, "state": state, "exclusive": exclusive,
            "max_removals": max_removals, "all_roles": all_roles}


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


def resolve_users(keys, users, field="members", missing_ok=False):
    """User rows for login names or e-mail addresses (case-insensitive); one error naming every unknown key.

    ``missing_ok`` drops unknown keys instead (removing a user who is not there is already done)."""
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
    if unknown and not missing_ok:
        pool = list(by_name) + list(by_mail)
        parts = []
        for key in unknown:
            matches = close_matches(key, pool, cutoff=0.85)  # addresses share their domain: only near misses
            parts.append("%s (close matches: %s)" % (key, ", ".join(matches)) if matches else "%s (no close match)" % key)
        raise v.ValidationError("Unknown %s: no Practice Protect user has the login name or e-mail %s. Invite or create the user first "
                                "(pp_user)." % ("user" if len(unknown) == 1 else "users", "; ".join(parts)), field=field)
    return found


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
    limit = spec["max_removals"]
    if spec["exclusive"] and limit is not None and len(removals) > limit:
        raise v.ValidationError(
            "Refusing to remove %d members from role %s: more than max_removals (%d). Those not listed in members would be removed: "
            "%s. Add them to members, or raise max_removals if this is intended." % (
                len(removals), spec["role"], limit, ", ".join(sorted(name for _, name in removals))), field="max_removals")
    return plan


def public_calls(plan):
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import ENDPOINTS
    return [{"op": c["op"], "method": "POST", "path": ENDPOINTS[c["endpoint"]], "role": c["role"], "fields": c["fields"]} for c in plan["calls"]]


def apply(client, plan):
    for call in plan["calls"]:
        client.call(call["endpoint"], call["body"])
